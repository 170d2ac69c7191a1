"""deploy/icecast (the `icecast` service of docker-compose.yml) without a Docker engine: its entrypoint writes the
config from the template with passwords that need escaping, refuses to start without them, and the config runs
in Debian's real icecast2 (only the port and log folder moved for the test): a source pushes with the password,
a listener hears it, the admin password opens the admin pages, a wrong source password is refused."""
from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request

from tests.broadcaster.helpers import tone_file
from tests.icecast import Feeder, Icecast, _ffmpeg
from tests.ports import free_port
from tests.station.ops.proc import ROOT

DEPLOY = ROOT / "deploy" / "icecast"


def _template_for_test(tmp_path, port: int) -> str:
    text = (DEPLOY / "icecast.xml.in").read_text("utf-8")
    assert "<port>8000</port>" in text and "<logdir>/run/icecast2</logdir>" in text
    text = (text.replace("<port>8000</port>", f"<port>{port}</port><bind-address>127.0.0.1</bind-address>")
            .replace("<logdir>/run/icecast2</logdir>", f"<logdir>{tmp_path}/log</logdir>"))
    if os.geteuid() == 0:  # the image runs as user icecast2; as root here Icecast must drop to someone
        text = text.replace("<chroot>0</chroot>", "<chroot>0</chroot><changeowner><user>nobody</user>"
                                                  "<group>nogroup</group></changeowner>")
    return text


def test_entrypoint_needs_the_passwords(tmp_path):
    env = {"PATH": os.environ["PATH"], "ICECAST_TEMPLATE": str(DEPLOY / "icecast.xml.in"),
           "ICECAST_CONFIG": str(tmp_path / "icecast.xml")}
    r = subprocess.run(["sh", str(DEPLOY / "entrypoint.sh")], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "ICECAST_SOURCE_PASSWORD is required" in r.stderr
    assert not (tmp_path / "icecast.xml").exists()


def test_the_deployed_config_runs_in_the_real_icecast(tmp_path):
    ice = Icecast(source_password="hub&pw|1", admin_password='adm<in>"\\pw')  # skips without icecast2
    port = free_port()
    (tmp_path / "log").mkdir()
    if os.geteuid() == 0:
        tmp_path.chmod(0o755)
        shutil.chown(tmp_path / "log", "nobody", "nogroup")
    (tmp_path / "icecast.xml.in").write_text(_template_for_test(tmp_path, port))
    env = {"PATH": os.environ["PATH"] + ":/usr/sbin:/usr/bin", "ICECAST_TEMPLATE": str(tmp_path / "icecast.xml.in"),
           "ICECAST_CONFIG": str(tmp_path / "icecast.xml"), "ICECAST_SOURCE_PASSWORD": ice.source_password,
           "ICECAST_ADMIN_PASSWORD": ice.admin_password, "ICECAST_HOSTNAME": "dai.example.vn"}
    ice.port = port
    ice.proc = subprocess.Popen(["sh", str(DEPLOY / "entrypoint.sh")], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while ice.status() is None and time.monotonic() < deadline and ice.proc.poll() is None:
            time.sleep(0.1)
        assert ice.status() is not None, ice.proc.stderr.read().decode() if ice.proc.poll() is not None else ""
        assert oct((tmp_path / "icecast.xml").stat().st_mode & 0o777) == "0o600"
        tone = tmp_path / "tone.mp3"
        tone_file(tone, 3.0)
        with Feeder(ice, "/relay-test", tone, "mp3"):
            heard = subprocess.run([_ffmpeg(), "-nostdin", "-v", "error", "-t", "1.5", "-i", ice.url("/relay-test"),
                                    "-f", "s16le", "pipe:1"], capture_output=True, timeout=60)
            assert heard.returncode == 0 and len(heard.stdout) > 44100 * 2, heard.stderr
        auth = base64.b64encode(f"admin:{ice.admin_password}".encode()).decode()
        with urllib.request.urlopen(urllib.request.Request(f"{ice.base}/admin/stats",
                                                           headers={"Authorization": f"Basic {auth}"}),
                                    timeout=5) as r:
            assert r.status == 200 and b"dai.example.vn" in r.read()
        push = subprocess.run([_ffmpeg(), "-nostdin", "-v", "error", "-re", "-i", str(tone), "-t", "1",
                               "-c:a", "libmp3lame", "-f", "mp3", "-content_type", "audio/mpeg",
                               f"icecast://source:not-it@127.0.0.1:{port}/intruder"], capture_output=True, timeout=60)
        assert push.returncode != 0 and "/intruder" not in ice.mounts()
        try:
            urllib.request.urlopen(f"{ice.base}/admin/stats", timeout=5)
            raise AssertionError("admin pages without a password")
        except urllib.error.HTTPError as exc:
            assert exc.code == 401
    finally:
        ice.stop()
