"""rembg's own model download (pooch, from rembg's GitHub releases) run for real, against
a proxy playing github.com (tests/release_proxy.py, the ``github`` fixture): the weights
land flat in the models folder, where the next offline run finds them; a cut connection
is one clear line and leaves nothing."""

import filecmp
import os

U2NETP_URL = "/danielgatis/rembg/releases/download/v0.0.0/u2netp.onnx"


def test_u2netp_download_then_offline_use(tmp_path, github, cli, parse_json_lines,
                                          u2netp_dir, photo):
    github.serve(U2NETP_URL, os.path.join(u2netp_dir, "u2netp.onnx"))
    m = tmp_path / "models"
    proc = cli(["--download", "u2netp", "--models-dir", m, "--json"], env=github.env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = [e for e in parse_json_lines(proc.stdout) if e["event"] == "result"][0]
    assert result["kind"] == "segmenter" and result["path"] == str(m / "u2netp.onnx")
    assert ("GET", U2NETP_URL) in github.requests  # it came through rembg's download
    assert filecmp.cmp(m / "u2netp.onnx", os.path.join(u2netp_dir, "u2netp.onnx"),
                       shallow=False)
    assert os.listdir(m) == ["u2netp.onnx"]  # flat; no rembg models/u2netp/, no .partial

    github.requests.clear()
    proc = cli([photo("coffee.png"), "-o", tmp_path / "cup.ply", "--depth-model", "inflate",
                "--max-size", "96", "--poisson-depth", "6", "--models-dir", m, "--offline",
                "--json"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = [e for e in parse_json_lines(proc.stdout) if e["event"] == "result"][0]
    assert result["segmenter"] == "u2netp" and github.requests == []


def test_u2netp_download_cut_mid_file_then_again(tmp_path, github, cli, u2netp_dir):
    github.serve(U2NETP_URL, os.path.join(u2netp_dir, "u2netp.onnx"))
    github.cut()
    m = tmp_path / "models"
    proc = cli(["--download", "u2netp", "--models-dir", m], env=github.env)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr[-2000:]
    assert "cannot download background-removal model 'u2netp'" in lines[0]
    assert "connection broke off" in lines[0] and "Traceback" not in proc.stderr
    assert list(m.iterdir()) == []

    proc = cli(["--download", "u2netp", "--models-dir", m], env=github.env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert os.listdir(m) == ["u2netp.onnx"]
