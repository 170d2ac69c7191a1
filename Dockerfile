# Loa station image: the API (`loa serve`), the scheduler, workers and the broker-file generator share it.
FROM python:3.11-slim-bookworm

# pg_dump/pg_restore for `loa backup` (match the PostgreSQL server's major version: 15 here and in compose)
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client-15 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/loa
COPY pyproject.toml README.md ./
COPY content ./content
COPY schedules ./schedules
COPY broadcaster ./broadcaster
COPY api ./api
COPY loa ./loa
COPY station ./station
# ffmpeg (imageio-ffmpeg) and espeak-ng (espeakng-loader) come as wheels: no apt packages for audio
RUN pip install --no-cache-dir . && useradd --system --uid 10001 --home /var/lib/loa loa \
 && mkdir -p /var/lib/loa && chown loa /var/lib/loa \
 && mkdir -p /mosquitto/loa && chown 1883:1883 /mosquitto/loa

USER loa
ENV LOA_DATA_DIR=/var/lib/loa PYTHONUNBUFFERED=1
VOLUME ["/var/lib/loa"]
EXPOSE 8000
CMD ["loa", "serve", "--host", "0.0.0.0", "--port", "8000"]
