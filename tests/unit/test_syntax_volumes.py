"""syntax/volumes.py: the short volume syntax and the path tests behind bind vs volume."""

from __future__ import annotations

import pytest

from stackctl.syntax.volumes import is_file_path, is_windows_abs, parse_volume_spec


@pytest.mark.parametrize(("spec", "want"), [
    ("/data", {"type": "volume", "target": "/data"}),
    ("data:/data:ro", {"type": "volume", "source": "data", "target": "/data", "read_only": True}),
    ("./conf:/etc/app:rw,rshared", {"type": "bind", "source": "./conf", "target": "/etc/app",
                                     "bind": {"propagation": "rshared"}}),
    ("cache:/cache:nocopy", {"type": "volume", "source": "cache", "target": "/cache",
                             "volume": {"nocopy": True}}),
    ("C:\\data:/data", {"type": "bind", "source": "C:\\data", "target": "/data"}),
])
def test_short_volume_syntax(spec: str, want: dict[str, object]) -> None:
    assert parse_volume_spec(spec) == want


@pytest.mark.parametrize(("spec", "reason"), [
    ("", "empty volume spec"), ("/a:/b:ro:x", "too many colons"), ("data::/b", "empty section"),
])
def test_invalid_volume_specs(spec: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_volume_spec(spec)


def test_paths() -> None:
    assert is_file_path("~/x") and is_file_path("../x") and not is_file_path("named")
    assert is_windows_abs("C:/x") and is_windows_abs("\\\\server\\share") and not is_windows_abs("/x")
