"""`kstock up --localstack` / `kstock provision --localstack`: localstack-client decides where LocalStack's edge
is, and every AWS client kstock makes (the core's factory, provisioning) goes there."""

from __future__ import annotations

from support.envs import environment

from kstock import aws
from kstock_local.cloud.localstack import edge_url
from kstock_local.cloud.provision import clients_for
from kstock_local.settings import get_local_settings


def test_the_edge_is_where_localstack_host_says():
    with environment(LOCALSTACK_HOST="127.0.0.1:4599", AWS_ENDPOINT_URL=None, USE_SSL=None):
        assert edge_url() == "http://127.0.0.1:4599"
        assert get_local_settings().localstack_host == "127.0.0.1:4599"
    with environment(LOCALSTACK_HOST=None, AWS_ENDPOINT_URL=None, USE_SSL="1"):
        assert edge_url() == "https://localhost:4566"  # localstack-client's default edge


def test_an_endpoint_already_set_wins_over_localstack_host():
    with environment(LOCALSTACK_HOST="127.0.0.1:4599", AWS_ENDPOINT_URL="http://127.0.0.1:4700"):
        assert edge_url() == "http://127.0.0.1:4700"


def test_the_core_factory_uses_the_edge_that_kstock_up_exports():
    """The core reads only AWS_ENDPOINT_URL (Lambda has no localstack-client): `kstock up --localstack` sets it."""
    with environment(LOCALSTACK_HOST="127.0.0.1:4599", AWS_ENDPOINT_URL=None, AWS_ACCESS_KEY_ID=None):
        edge = edge_url()
    with environment(AWS_ENDPOINT_URL=edge, AWS_ACCESS_KEY_ID=None):
        sqs = aws.client("sqs")
        assert sqs.meta.endpoint_url == "http://127.0.0.1:4599"
        assert aws.credentials() == aws.LOCAL_CREDENTIALS  # never a developer's real keys


def test_provisioning_clients_come_from_the_localstack_session_at_the_given_edge():
    with environment(AWS_ENDPOINT_URL=None, LOCALSTACK_HOST=None):
        sqs, dynamodb = clients_for("http://127.0.0.1:4599", "ap-northeast-2", localstack=True)
    assert sqs.meta.endpoint_url == dynamodb.meta.endpoint_url == "http://127.0.0.1:4599"
    assert sqs.meta.region_name == "ap-northeast-2"
    # localstack-client's session, not boto3's default one: its own dummy key, never the shell's
    assert sqs._request_signer._credentials.access_key == "local"
