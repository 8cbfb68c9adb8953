"""RayHead.start with a `ray` that fails to start (a script standing in for the command: the real
one is started by the e2e tests): it is tried again, then the error names the log and its tail."""

from __future__ import annotations

import pytest

from topicserve.localray import RayHead, RayPorts


def test_a_head_that_does_not_come_up_is_started_again_then_reported(tmp_path):
    ray = tmp_path / "ray"
    # What `ray start` prints when its raylet does not register in time, then its exit.
    ray.write_text(
        "#!/bin/sh\necho started >> $TS_COUNT\necho 'Exception: The current node timed out during startup.'\nexit 1\n"
    )
    ray.chmod(0o755)
    head = RayHead(ports=RayPorts.block(29700), temp_dir=str(tmp_path / "t"))
    with pytest.raises(RuntimeError, match="did not come up") as failed:
        head.start(ray, tmp_path / "head.log", env={"TS_COUNT": str(tmp_path / "count")}, timeout=30, attempts=2)
    assert (tmp_path / "count").read_text().count("started") == 2  # tried twice
    assert "timed out during startup" in str(failed.value) and str(tmp_path / "head.log") in str(failed.value)
    assert head.pid is None  # nothing recorded to stop


def test_a_head_is_up_only_once_ray_start_says_so(tmp_path):
    """A `ray start` that runs a while and exits without printing STARTED_MARK never was up."""
    ray = tmp_path / "ray"
    ray.write_text("#!/bin/sh\nsleep 3\n")  # runs, prints nothing, exits: never up
    ray.chmod(0o755)
    head = RayHead(ports=RayPorts.block(29800), temp_dir=str(tmp_path / "t"))
    with pytest.raises(RuntimeError, match="did not come up"):
        head.start(ray, tmp_path / "head.log", timeout=30, attempts=1)
