"""The daemon's properties from the deployment's settings: local endpoints and tuning only locally."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.harness.paths import ROOT
from trustpipe.settings import LOCAL_JVM_ARCHIVES, LOCAL_JVM_OPTIONS, Settings
from trustpipe_stream import daemon

SETTINGS = Settings.from_dict(json.loads((ROOT / "tests/unit/fixtures/settings.json").read_text()))


def parse(text: str) -> dict[str, str]:
    return dict(line.split(" = ", 1) for line in text.splitlines())


def test_local_properties_point_at_the_moto_server_with_the_fast_start_tuning() -> None:
    c = daemon.consumer(SETTINGS, "scorer", "raw", ["python", "-m", "x", "--flag", "a b"], "host-0")
    props = parse(daemon.properties(c))
    assert props["applicationName"] == "raw-scorer" and props["streamName"] == "raw"
    assert props["executableName"] == "python -m x --flag 'a b'"
    assert props["kinesisEndpoint"] == props["dynamoDBEndpoint"] == SETTINGS.aws_endpoint
    assert props["metricsLevel"] == "NONE" and props["retrievalMode"] == "POLLING"
    assert props["workerId"] == "host-0"
    assert int(props["shardSyncIntervalMillis"]) == 5000
    assert int(props["shutdownGraceMillis"]) < 540_000  # inside the units' stop timeout


def test_on_aws_there_are_no_endpoints_and_the_kcl_defaults_stand() -> None:
    c = daemon.consumer(
        Settings.from_dict({**SETTINGS.__dict__, "aws_endpoint": None}), "alerter", "s", ["p"], "h-1"
    )
    props = parse(daemon.properties(c))
    assert "kinesisEndpoint" not in props and "shardSyncIntervalMillis" not in props
    assert props["metricsLevel"] == "SUMMARY"


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:5000", None])
def test_a_failed_listshards_cannot_make_the_kcl_skip_a_fetched_batch(endpoint: str | None) -> None:
    # GIVEN a consumer, locally or on AWS; WHEN its daemon's properties are written
    settings = Settings.from_dict({**SETTINGS.__dict__, "aws_endpoint": endpoint})
    props = parse(daemon.properties(daemon.consumer(settings, "alerter", "s", ["p"], "h-1")))
    # THEN the KCL builds each batch's task without asking ListShards for the shard: when that
    # call failed, KCL 3.1.3 skipped the batch it had fetched (seen in a chaos run's alerter:
    # 29 actions never raised) and the next checkpoint moved past it
    assert props["skipShardSyncAtWorkerInitializationIfLeasesExist"] == "true"


def test_the_command_runs_the_multilang_daemon_from_the_wheels_jars(tmp_path: Path) -> None:
    argv = daemon.command(tmp_path / "w.properties", java="/usr/bin/java")
    assert argv[0] == "/usr/bin/java" and daemon.MAIN_CLASS in argv
    assert argv[argv.index("--properties-file") + 1] == str(tmp_path / "w.properties")
    assert any(j.name.startswith("amazon-kinesis-client-multilang") for j in daemon.jars().glob("*.jar"))


def test_a_local_runs_jvm_options_go_before_the_class_and_none_without_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LOCAL_JVM_OPTIONS, "-XX:TieredStopAtLevel=1  -XX:+UseSerialGC")
    argv = daemon.command(tmp_path / "w.properties", java="/usr/bin/java")
    assert argv[1:3] == ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]
    assert argv.index("-XX:+UseSerialGC") < argv.index(daemon.MAIN_CLASS)
    monkeypatch.delenv(LOCAL_JVM_OPTIONS)
    monkeypatch.delenv(LOCAL_JVM_ARCHIVES, raising=False)
    plain = daemon.command(tmp_path / "w.properties", java="/usr/bin/java")
    assert not any(a.startswith(("-XX:", "-Xlog")) for a in plain)


def test_a_daemon_maps_its_kinds_class_archive_where_one_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a folder of archives without the KCL's
    monkeypatch.setenv(LOCAL_JVM_ARCHIVES, str(tmp_path))
    (tmp_path / "spark.jsa").write_bytes(b"x")
    argv = daemon.command(tmp_path / "w.properties", java="/usr/bin/java")
    assert not any("SharedArchiveFile" in a for a in argv)
    # WHEN the KCL's is there THEN the daemon maps it, and a JVM that cannot says nothing of it
    (tmp_path / "kcl.jsa").write_bytes(b"x")
    argv = daemon.command(tmp_path / "w.properties", java="/usr/bin/java")
    archive = argv.index(f"-XX:SharedArchiveFile={tmp_path / 'kcl.jsa'}")
    assert archive < argv.index(daemon.MAIN_CLASS)
    assert {"-Xlog:cds=off", "-Xlog:cds+dynamic=off"} <= set(argv)


def test_no_java_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(daemon.shutil, "which", lambda _name: None)
    with pytest.raises(daemon.JavaMissingError, match="needs Java 17"):
        daemon.command(tmp_path / "w.properties")
