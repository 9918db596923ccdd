"""swarm/logs.py: log framing (the stream, the line, the prefix)."""

from __future__ import annotations

from stackctl.swarm.logs import framed, log_prefix, split_log_line, user_details


def test_framing_like_docker_service_logs() -> None:
    stamp, details, message = split_log_line(
        "2024-05-01T12:00:00.1Z com.docker.swarm.task.id=abc,app=x%20y hello world", timestamps=True)
    assert (stamp, message) == ("2024-05-01T12:00:00.1Z", "hello world")
    assert user_details(details) == "app=x y"
    prefix = log_prefix({"Slot": 2}, "t" * 25, "shop_web", "wrk-1")
    assert framed(prefix, len(prefix) + 2, "hi") == f"shop_web.2.{'t' * 12}@wrk-1      | hi"
