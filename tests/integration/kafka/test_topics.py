"""A stream processor's faust topics are made, with the source topics' partition count, before
its worker starts: on a fresh broker faust made them itself after its consumer's first
metadata, and every table write then found its changelog with 0 partitions (the agent crashed
with PartitionsMismatch on each batch, and scored nothing, until the metadata was refreshed)."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

from schemas.topics import PARTITIONS
from services.eta.app import create_app as create_eta_app
from services.eta.settings import EtaSettings
from services.excursions.app import create_app as create_excursions_app
from services.excursions.app import silence_ticks_topic
from services.excursions.settings import ExcursionSettings
from services.kafka.faust_app import internal_topics
from services.kafka.topics import ensure_topics
from tests.harness.stack import StackEndpoints

pytestmark = pytest.mark.integration


def _cleanup_policy(admin: AdminClient, topic: str) -> str:
    resource = ConfigResource(ResourceType.TOPIC, topic)
    return str(admin.describe_configs([resource])[resource].result(timeout=30)["cleanup.policy"].value)


def test_each_processor_s_changelogs_and_ticks_exist_before_its_worker_starts(stack: StackEndpoints) -> None:
    tag = uuid.uuid4().hex[:8]
    excursions = ExcursionSettings(excursions_app_id=f"coldchain-topics-test-exc-{tag}")
    eta = EtaSettings(eta_app_id=f"coldchain-topics-test-eta-{tag}")
    wanted = {
        **internal_topics(create_excursions_app(excursions), silence_ticks_topic(excursions)),
        **internal_topics(create_eta_app(eta)),
    }
    changelogs = {name for name in wanted if name.endswith("-changelog")}
    assert {name.split(f"-{tag}-", 1)[1] for name in changelogs} == {
        "eta-shipments-changelog", "eta-state-changelog", "eta-pending-changelog",
        "excursions-shipments-changelog", "excursions-state-changelog"}, changelogs
    assert f"coldchain-topics-test-exc-{tag}-silence-ticks" in wanted

    client = {"bootstrap.servers": stack.kafka_bootstrap}
    admin = AdminClient(client)
    try:
        created = ensure_topics(client, internal=wanted)
        assert set(wanted) <= set(created)  # coldchain's own topics exist already
        topics = admin.list_topics(timeout=30).topics
        for name in wanted:
            assert len(topics[name].partitions) == PARTITIONS, name
            assert _cleanup_policy(admin, name) == ("compact" if name in changelogs else "delete"), name
        assert ensure_topics(client, internal=wanted) == []  # a second start makes nothing
    finally:
        for future in admin.delete_topics(list(wanted), operation_timeout=30).values():
            future.exception()  # gone, or never made
