"""Content commands: `loa normalize-text`, `loa say`, `loa master`.

Bad input exits non-zero with a one-line reason and leaves no output file: the result is written to a
temporary file beside the target and renamed only once it is complete.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Optional

import typer



def _fail(message: str) -> None:
    typer.echo(f"Lỗi / Error: {message}", err=True)
    raise typer.Exit(code=1)


def _publish(store_path: Path, output: Path) -> None:
    """Copy the stored file to the user's output path atomically (temp file in the same folder, then rename)."""
    output = output.expanduser().resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".part", dir=output.parent)
    try:
        with os.fdopen(fd, "wb") as dst, open(store_path, "rb") as src:
            shutil.copyfileobj(src, dst)
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _format_for(output: Path, requested: Optional[str]) -> str:
    if requested:
        return requested
    return "mp3" if output.suffix.lower() == ".mp3" else "ogg-opus"


def _with_progress(label: str, work):
    """Run `work()` under a Rich progress line (spinner, pulsing bar, elapsed time) on standard error:
    rendering a long directive or mastering a long recording takes seconds. Quiet when stderr is not a
    terminal, so scripts and --json output stay clean."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        return work()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        progress.add_task(label, total=None)
        return work()


def _print_facts(facts, as_json: bool, output: Path) -> None:
    if as_json:
        typer.echo(json.dumps(facts.to_dict(), ensure_ascii=False))
        return
    engine = f" · {facts.engine}/{facts.voice}" if facts.engine else ""
    typer.echo(
        f"{output}: {facts.duration_s:.1f} s, {facts.integrated_lufs:.1f} LUFS, "
        f"{facts.true_peak_dbtp:.1f} dBTP, LRA {facts.loudness_range_lu:.1f} LU{engine}"
    )
    for skipped in facts.skipped_engines:
        typer.echo(f"  bỏ qua / skipped {skipped['engine']}: {skipped['reason']}")


def register(app: typer.Typer) -> None:
    @app.command("normalize-text")
    def normalize_text(
        text: str = typer.Argument(..., help="Văn bản cần đọc / the text to speak ('-' reads standard input)"),
        region: str = typer.Option("north", help="north (nghìn, linh) | south (ngàn, lẻ)"),
        lexicon: list[Path] = typer.Option([], help="Extra abbreviation lexicon TSV files"),
    ) -> None:
        """In ra đúng những lời sẽ được đọc / print exactly what will be spoken."""
        from content.textnorm import Lexicon, normalize

        if text == "-":
            text = sys.stdin.read()
        if region not in {"north", "south"}:
            _fail("vùng phải là north hoặc south / region must be north or south")
        try:
            lex = Lexicon.load(*lexicon)
        except (OSError, ValueError) as exc:
            _fail(str(exc))
        for sentence in normalize(text, region=region, lexicon=lex).sentences:
            typer.echo(sentence)

    @app.command("say")
    def say(
        text: str = typer.Argument(..., help="Văn bản / the text ('-' reads standard input)"),
        output: Path = typer.Option(..., "-o", "--output", help="Output file (.ogg or .mp3)"),
        engine: str = typer.Option("auto", help="auto | espeak | gtts | piper"),
        voice: Optional[str] = typer.Option(None, help="Giọng đọc / voice (e.g. vi, vi-vn-x-south)"),
        speed: float = typer.Option(1.0, help="Tốc độ / speed (0.5–2.0)"),
        fmt: Optional[str] = typer.Option(None, "--format", help="ogg-opus | mp3 (default: from the file name)"),
        as_json: bool = typer.Option(False, "--json", help="Print the stored metadata as JSON"),
        data: Optional[Path] = typer.Option(None, "--data-dir", help="Station data directory (LOA_DATA_DIR)"),
    ) -> None:
        """Đọc văn bản thành tệp âm thanh đã chuẩn hoá / render text to broadcast-ready audio."""
        from content.pipeline import MasteringSettings, render_text
        from content.store import AudioStore

        if text == "-":
            text = sys.stdin.read()
        from loa.settings import data_dir  # pydantic-settings: not loaded for `loa agent` (0.2 CPU-s a start)

        root = data_dir(data)
        settings = MasteringSettings(format=_format_for(output, fmt), bitrate_kbps=64 if _format_for(output, fmt) == "mp3" else 24)
        try:
            facts = _with_progress("Đang đọc và chuẩn hoá / rendering and mastering", lambda: render_text(
                text, AudioStore(root / "audio"), engine=engine, voice=voice, speed=speed,
                settings=settings, cache_dir=root / "cache" / "tts",
            ))
        except Exception as exc:  # every engine/ingest error carries a bilingual message
            if not _is_user_error(exc):
                raise
            _fail(str(exc))
        _publish(AudioStore(root / "audio").path_for(facts.sha256), output)
        _print_facts(facts, as_json, output)

    @app.command("master")
    def master(
        source: Path = typer.Argument(..., help="Bản ghi âm / a recording (m4a, mp3, ogg, webm, amr, 3gp, wav, flac)"),
        output: Path = typer.Option(..., "-o", "--output", help="Output file (.ogg or .mp3)"),
        fmt: Optional[str] = typer.Option(None, "--format", help="ogg-opus | mp3 (default: from the file name)"),
        as_json: bool = typer.Option(False, "--json", help="Print the stored metadata as JSON"),
        data: Optional[Path] = typer.Option(None, "--data-dir", help="Station data directory (LOA_DATA_DIR)"),
    ) -> None:
        """Chuẩn hoá bản ghi âm cho loa / master a recording for loudspeakers."""
        from content.pipeline import MasteringSettings, master_recording
        from content.store import AudioStore

        if not source.is_file():
            _fail(f"không tìm thấy tệp / file not found: {source}")
        from loa.settings import data_dir  # pydantic-settings: not loaded for `loa agent` (0.2 CPU-s a start)

        root = data_dir(data)
        chosen = _format_for(output, fmt)
        settings = MasteringSettings(format=chosen, bitrate_kbps=64 if chosen == "mp3" else 24)
        try:
            facts = _with_progress("Đang chuẩn hoá bản ghi / mastering the recording",
                                   lambda: master_recording(source, AudioStore(root / "audio"), settings))
        except Exception as exc:
            if not _is_user_error(exc):
                raise
            _fail(str(exc))
        _publish(AudioStore(root / "audio").path_for(facts.sha256), output)
        _print_facts(facts, as_json, output)


def _is_user_error(exc: Exception) -> bool:
    """Errors caused by the input (bad audio, unknown voice, empty text) rather than by a bug."""
    from content.audio.ingest import IngestError
    from content.tts.base import EngineError

    return isinstance(exc, (IngestError, EngineError, ValueError))
