"""The Confluent REST API: paths, bodies and error codes."""

from __future__ import annotations

import json

import pytest

from tests.harness.registry_api import Api, record

V1 = record("User", {"name": "name", "type": "string"})
V2 = record(
    "User",
    {"name": "name", "type": "string"},
    {"name": "age", "type": ["null", "int"], "default": None},
)
V3 = record(
    "User",
    {"name": "name", "type": "string"},
    {"name": "age", "type": ["null", "int"], "default": None},
    {"name": "email", "type": "string", "default": ""},
)
NO_DEFAULT = record("User", {"name": "name", "type": "string"}, {"name": "tenant", "type": "string"})


def test_register_returns_id_and_reregistering_adds_no_version(api: Api) -> None:
    first = api.register("users-value", V1)
    assert (first.status, first.body) == (200, {"id": 1})
    assert api.register("users-value", V1).body == {"id": 1}
    assert api.call("GET", "/subjects/users-value/versions").body == [1]


def test_one_schema_one_id_across_subjects(api: Api) -> None:
    assert api.register("a-value", V1).body == {"id": 1}
    assert api.register("b-value", V1).body == {"id": 1}
    assert api.register("b-value", V2).body == {"id": 2}
    assert api.call("GET", "/subjects").body == ["a-value", "b-value"]


def test_key_order_does_not_change_identity_but_a_default_does(api: Api) -> None:
    reordered = {"fields": V1["fields"], "name": "User", "type": "record"}
    assert api.register("s", V1).body == api.register("s", reordered).body
    with_default = record("User", {"name": "name", "type": "string", "default": "x"})
    assert api.register("s", with_default).body == {"id": 2}


def test_get_by_id_and_raw_schema(api: Api) -> None:
    api.register("s", V1)
    assert json.loads(api.call("GET", "/schemas/ids/1").body["schema"]) == V1
    assert api.call("GET", "/schemas/ids/1/schema").body == V1
    missing = api.call("GET", "/schemas/ids/7")
    assert (missing.status, missing.body["error_code"]) == (404, 40403)


def test_versions_latest_and_minus_one(api: Api) -> None:
    api.register("s", V1)
    api.register("s", V2)
    latest = api.call("GET", "/subjects/s/versions/latest").body
    assert latest == {
        "subject": "s",
        "version": 2,
        "id": 2,
        "schema": json.dumps(V2, separators=(",", ":")),
    }
    assert api.call("GET", "/subjects/s/versions/-1").body["version"] == 2
    assert api.call("GET", "/subjects/s/versions/1/schema").body == V1


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/subjects/nope/versions", 404, 40401),
        ("/subjects/nope/versions/1", 404, 40401),
        ("/subjects/s/versions/9", 404, 40402),
        ("/subjects/s/versions/abc", 422, 42202),
        ("/subjects/s/versions/0", 422, 42202),
        ("/subjects/s/versions/2147483648", 422, 42202),
        ("/schemas/ids/x", 404, 40403),
        ("/config/s", 404, 40408),
        ("/no/such/path", 404, 404),
    ],
)
def test_not_found_and_invalid_codes(api: Api, path: str, status: int, code: int) -> None:
    api.register("s", V1)
    answer = api.call("GET", path)
    assert (answer.status, answer.body["error_code"]) == (status, code)
    assert answer.body["message"]


def test_lookup(api: Api) -> None:
    api.register("s", V1)
    api.register("s", V2)
    found = api.call("POST", "/subjects/s", {"schema": json.dumps(V1)})
    assert (found.body["version"], found.body["id"]) == (1, 1)
    assert api.call("POST", "/subjects/s", {"schema": json.dumps(V3)}).body["error_code"] == 40403
    assert api.call("POST", "/subjects/other", {"schema": json.dumps(V1)}).body["error_code"] == 40401


def test_soft_delete_then_permanent(api: Api) -> None:
    api.register("s", V1)
    api.register("s", V2)
    # permanent first is refused
    assert api.call("DELETE", "/subjects/s?permanent=true").body["error_code"] == 40405
    assert api.call("DELETE", "/subjects/s/versions/1?permanent=true").body["error_code"] == 40407
    # soft delete of one version hides it, but its id still resolves
    assert api.call("DELETE", "/subjects/s/versions/1").body == 1
    assert api.call("GET", "/subjects/s/versions").body == [2]
    assert api.call("GET", "/subjects/s/versions?deleted=true").body == [1, 2]
    assert api.call("GET", "/subjects/s/versions/1").body["error_code"] == 40402
    assert api.call("GET", "/subjects/s/versions/1?deleted=true").body["id"] == 1
    assert api.call("DELETE", "/subjects/s/versions/1").body["error_code"] == 40406
    assert api.call("GET", "/schemas/ids/1").status == 200
    # soft delete of the subject, then permanently
    assert api.call("DELETE", "/subjects/s").body == [2]
    assert api.call("GET", "/subjects").body == []
    assert api.call("GET", "/subjects?deleted=true").body == ["s"]
    assert api.call("DELETE", "/subjects/s").body["error_code"] == 40404
    assert api.call("DELETE", "/subjects/s?permanent=true").body == [1, 2]
    assert api.call("GET", "/subjects?deleted=true").body == []
    assert api.call("GET", "/schemas/ids/2").status == 200


def test_reregistering_after_soft_delete_makes_a_new_version_with_the_same_id(api: Api) -> None:
    api.register("s", V1)
    api.call("DELETE", "/subjects/s")
    assert api.register("s", V1).body == {"id": 1}
    assert api.call("GET", "/subjects/s/versions").body == [2]


def test_incompatible_schema_is_409_and_stores_nothing(api: Api) -> None:
    api.register("s", V1)
    answer = api.register("s", NO_DEFAULT)
    assert (answer.status, answer.body["error_code"]) == (409, 409)
    assert "tenant" in answer.body["message"]
    assert api.call("GET", "/subjects/s/versions").body == [1]
    assert api.call("GET", "/schemas/ids/2").status == 404


def test_soft_deleted_versions_are_left_out_of_checks(api: Api) -> None:
    api.register("s", V1)
    api.call("DELETE", "/subjects/s/versions/1")
    assert api.register("s", NO_DEFAULT).status == 200


def test_compatibility_endpoint_with_verbose_messages(api: Api) -> None:
    api.register("s", V1)
    ok = api.call("POST", "/compatibility/subjects/s/versions/latest", {"schema": json.dumps(V2)})
    assert ok.body == {"is_compatible": True}
    bad = api.call(
        "POST",
        "/compatibility/subjects/s/versions/1?verbose=true",
        {"schema": json.dumps(NO_DEFAULT)},
    )
    assert bad.body["is_compatible"] is False
    assert any("tenant" in m for m in bad.body["messages"])
    assert (
        api.call("POST", "/compatibility/subjects/x/versions/latest", {"schema": json.dumps(V2)}).status
        == 404
    )


def test_config_global_and_subject(api: Api) -> None:
    assert api.call("GET", "/config").body == {"compatibilityLevel": "BACKWARD"}
    assert api.call("PUT", "/config", {"compatibility": "full"}).body == {"compatibility": "FULL"}
    assert api.call("GET", "/config").body == {"compatibilityLevel": "FULL"}
    assert api.call("GET", "/config/s?defaultToGlobal=true").body == {"compatibilityLevel": "FULL"}
    assert api.call("PUT", "/config/s", {"compatibility": "NONE"}).body == {"compatibility": "NONE"}
    assert api.call("GET", "/config/s").body == {"compatibilityLevel": "NONE"}
    assert api.call("DELETE", "/config/s").body == {"compatibilityLevel": "NONE"}
    assert api.call("GET", "/config/s").status == 404


@pytest.mark.parametrize("level", ["SIDEWAYS", "", 3, None])
def test_unknown_mode_is_42203(api: Api, level: object) -> None:
    answer = api.call("PUT", "/config", {"compatibility": level})
    assert (answer.status, answer.body["error_code"]) == (422, 42203)
    assert api.call("GET", "/config").body == {"compatibilityLevel": "BACKWARD"}


@pytest.mark.parametrize(
    "content_type",
    [
        "application/vnd.schemaregistry.v1+json",
        "application/vnd.schemaregistry+json",
        "application/json",
    ],
)
def test_accepted_content_types(api: Api, content_type: str) -> None:
    answer = api.call("POST", "/subjects/s/versions", {"schema": json.dumps(V1)}, content_type=content_type)
    assert answer.status == 200


def test_other_content_type_is_415(api: Api) -> None:
    answer = api.call("POST", "/subjects/s/versions", {"schema": json.dumps(V1)}, content_type="text/plain")
    assert (answer.status, answer.body["error_code"]) == (415, 415)


@pytest.mark.parametrize(
    ("body", "raw", "status", "code"),
    [
        (None, '{"schema": ', 400, 400),
        ({"schema": "{not json"}, None, 422, 42201),
        ({"schema": json.dumps({"type": "record", "name": "X"})}, None, 422, 42201),
        ({"schema": json.dumps({"type": "recrod", "name": "X", "fields": []})}, None, 422, 42201),
        ({"schema": json.dumps(V1), "schemaType": "PROTOBUF"}, None, 422, 42201),
        ({"schema": {"type": "string"}}, None, 422, 42201),
        ({"schemaa": json.dumps(V1)}, None, 422, 42201),
        (
            {
                "schema": json.dumps(
                    record(
                        "Big",
                        *({"name": f"f{i}", "type": "string", "doc": "x" * 200} for i in range(1300)),
                    )
                )
            },
            None,
            422,
            42209,
        ),
        (
            {"schema": json.dumps(record("N", {"name": "n", "type": {"type": "array", "items": "null"}}))},
            None,
            422,
            42201,
        ),
        (
            {"schema": json.dumps({"type": "map", "values": {"type": "array", "items": record("E")}})},
            None,
            422,
            42201,
        ),
        ({"schema": '{"type":"array","items":' * 3000 + '"int"' + "}" * 3000}, None, 422, 42201),
    ],
    ids=[
        "malformed-json",
        "schema-not-json",
        "record-without-fields",
        "unknown-type",
        "not-avro",
        "schema-not-a-string",
        "no-schema-field",
        "over-256-KiB",
        "array-of-null",
        "array-of-empty-records",
        "nested-3000-deep",
    ],
)
def test_bad_schemas_are_4xx_and_store_nothing(
    api: Api, body: object, raw: str | None, status: int, code: int
) -> None:
    answer = api.call("POST", "/subjects/s/versions", body, raw=raw)
    assert (answer.status, answer.body["error_code"]) == (status, code), answer.body
    assert api.call("GET", "/subjects?deleted=true").body == []
    assert api.store.schema(1) is None


@pytest.mark.parametrize(
    ("subject", "reason"),
    [
        ("%00", "control characters"),
        ("x" * 256, "the limit is 255"),
        ("bad%0Aname", "control characters"),
    ],
)
def test_bad_subject_names_are_42208(api: Api, subject: str, reason: str) -> None:
    answer = api.register(subject, V1)
    assert (answer.status, answer.body["error_code"]) == (422, 42208)
    assert reason in answer.body["message"]
    assert api.call("GET", "/subjects?deleted=true").body == []


def test_empty_subject_is_42208() -> None:
    from schema_registry_lambda.errors import RegistryError
    from schema_registry_lambda.registry import Registry
    from schema_registry_lambda.store import InMemoryStore

    with pytest.raises(RegistryError) as err:
        Registry(InMemoryStore()).register("", {"schema": json.dumps(V1)})
    assert err.value.error_code == 42208


def test_url_encoded_subject_names(api: Api) -> None:
    assert api.register("topic%2Fwith%20space-value", V1).status == 200
    assert api.call("GET", "/subjects").body == ["topic/with space-value"]


def test_store_fault_is_500xx(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object) -> None:
        raise ConnectionError("table unreachable")

    monkeypatch.setattr(api.store, "versions", broken)
    answer = api.register("s", V1)
    assert (answer.status, answer.body["error_code"]) == (500, 50001)
