"""Fixtures serving models the way their hubs do, so tests run the real download code:
``hub`` (tests/hub_server.py, the Hugging Face Hub) and ``github`` (tests/release_proxy.py,
rembg's GitHub releases).  Imported by tests/conftest.py."""

import pytest


@pytest.fixture
def hub(monkeypatch):
    """A local imitation of the Hugging Face Hub (tests/hub_server.py) for one test:
    ``hub.add("org/name", folder)`` serves a folder, ``hub.fault(...)`` breaks it,
    ``hub.env`` points a subprocess's huggingface_hub at it, ``hub.in_process()`` this
    process's (already imported, so its endpoint constants are patched)."""
    from hub_server import FakeHub

    server = FakeHub().start()

    def in_process():
        from huggingface_hub import constants

        monkeypatch.setattr(constants, "ENDPOINT", server.url)
        monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                            server.url + "/{repo_id}/resolve/{revision}/{filename}")
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)

    server.in_process = in_process
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def github(tmp_path):
    """An HTTPS proxy playing github.com for rembg's downloads (tests/release_proxy.py):
    ``github.serve(path, file)``, ``github.cut()``, ``github.env`` for a subprocess."""
    from release_proxy import ReleaseProxy

    folder = tmp_path / "certs"
    folder.mkdir()
    proxy = ReleaseProxy(folder).start()
    try:
        yield proxy
    finally:
        proxy.stop()
