"""The simulated enterprises are the tenant map's: the simulator's own three keep their traffic
byte for byte, an enterprise it has no profile for gets one derived from its id, and one it has a
profile for but the map lacks is not simulated."""

from __future__ import annotations

import hashlib

import pytest

from trustpipe import layout
from trustpipe.aws import AwsClients
from trustpipe.settings import Settings
from trustpipe.tenants import check_enterprise_id
from trustpipe_sensors.app import NoTenantsError, tenant_world
from trustpipe_sensors.sensor import UnknownEnterpriseError, land_hour, select_enterprises
from trustpipe_sensors.world import (
    DERIVED_MALICIOUS_RATE,
    DERIVED_MESSAGES_PER_QUARTER,
    ENTERPRISE_IDS,
    World,
    derived_profile,
)

HOUR = layout.parse_hour("2026-11-26T13")
WORLD_7_DIGEST = "c1a0125f24a58c740e0630bbe56b3a12791db747ec08a791fba190882a7e0302"
"""sha256 of repr(World.build(7)) as the simulator built it before tenant maps (its draws use
string-seeded generators only, so this holds under any PYTHONHASHSEED)."""


def land(world: World, seed: int) -> dict[str, bytes]:
    store: dict[str, bytes] = {}
    land_hour(
        lambda b, k, body: store.__setitem__(f"{b}/{k}", body),
        "landing",
        "archive",
        HOUR,
        seed=seed,
        enterprises=select_enterprises(world, None),
        world=world,
        scale=0.05,
    )
    return store


def of(store: dict[str, bytes], enterprise_id: str) -> dict[str, bytes]:
    return {k: v for k, v in store.items() if f"/enterprise={enterprise_id}/" in k}


def test_the_simulators_map_builds_the_world_it_always_built() -> None:
    # GIVEN the local stack's default map, in any order
    ids = ["initech", "acme", "globex"]
    # THEN the world is the one of the simulator before maps existed, and lands the same bytes
    assert hashlib.sha256(repr(World.build(7, ids)).encode()).hexdigest() == WORLD_7_DIGEST
    assert hashlib.sha256(repr(World.build(7)).encode()).hexdigest() == WORLD_7_DIGEST
    assert land(World.build(7, ids), 7) == land(World.build(7), 7)


def test_a_map_of_its_own_simulates_exactly_its_enterprises() -> None:
    # GIVEN a map with one of the simulator's enterprises and two it has no profile for
    world = World.build(7, ["umbrella", "acme", "stark-industries"])
    # THEN exactly those are simulated, the simulator's first
    assert list(world.enterprises) == ["acme", "stark-industries", "umbrella"]
    store = land(world, 7)
    assert of(store, "globex") == {} and of(store, "initech") == {}
    # and acme's traffic is what it is in the simulator's own world, byte for byte
    assert of(store, "acme") == of(land(World.build(7), 7), "acme")
    # and each derived enterprise has its files, with its own staff
    for enterprise in ("stark-industries", "umbrella"):
        assert len([k for k in of(store, enterprise) if k.startswith("landing/")]) == layout.QUARTERS
        assert len(world.enterprises[enterprise].employees) == 56
    assert world.enterprises["umbrella"].employees != world.enterprises["stark-industries"].employees


def test_a_derived_profile_is_a_function_of_the_id_alone() -> None:
    profile = derived_profile("stark-industries")
    assert profile == derived_profile("stark-industries") != derived_profile("stark-industrie")
    assert World.build(1, ["umbrella"]).enterprises["umbrella"].domains == ("umbrella.com",)
    # and lies in the simulator's ranges, for ids of every shape the tenant map admits
    for enterprise in ("a", "0", "x" * 32, "a-b-c", "9lives"):
        p = derived_profile(check_enterprise_id(enterprise))
        assert p.sensor_version in (1, 2, 3)
        assert DERIVED_MESSAGES_PER_QUARTER[0] <= p.messages_per_quarter <= DERIVED_MESSAGES_PER_QUARTER[1]
        assert DERIVED_MALICIOUS_RATE[0] <= p.malicious_rate <= DERIVED_MALICIOUS_RATE[1]
    # and the same id simulates the same traffic in any map it is part of
    alone = of(land(World.build(3, ["umbrella"]), 3), "umbrella")
    assert alone and alone == of(land(World.build(3, ["umbrella", "acme", "zeta"]), 3), "umbrella")


def test_an_enterprise_outside_the_map_is_unknown_naming_the_maps() -> None:
    world = World.build(1, ["umbrella", "acme"])
    with pytest.raises(UnknownEnterpriseError, match=r"unknown enterprise globex; known: acme, umbrella$"):
        select_enterprises(world, ["globex"])


def _settings(tenants: dict[str, dict[str, str]]) -> Settings:
    names = ("landing_bucket", "scored_bucket", "archive_bucket", "scored_topic_arn", "importer_queue_url")
    names += ("importer_dlq_url", "raw_stream_name", "scored_stream_name", "imported_stream_name")
    return Settings(region="us-east-1", registry_table_name="t", tenants=tenants, **dict.fromkeys(names, "x"))


def test_the_sensors_world_is_the_settings_tenant_map() -> None:
    world = tenant_world(AwsClients(_settings({"umbrella": {}, "initech": {}})), seed=2)
    assert list(world.enterprises) == ["initech", "umbrella"]
    assert set(ENTERPRISE_IDS) - set(world.enterprises) == {"acme", "globex"}
    with pytest.raises(NoTenantsError, match="the settings name no enterprise"):
        tenant_world(AwsClients(_settings({})), seed=2)
