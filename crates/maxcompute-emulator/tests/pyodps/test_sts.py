"""STS: AssumeRole in Alibaba's RPC style, then pyodps's StsAccount against REST and tunnel."""

import base64
import hashlib
import hmac
import time
import uuid
from datetime import datetime, timezone
from urllib.parse import quote

import pytest
import requests
from odps import errors
from odps.accounts import StsAccount
from odps.tunnel import TableTunnel

from conftest import ACCESS_ID, ROLE_ARN, SECRET


def pop_encode(text):
    # Alibaba's rule: only RFC 3986 unreserved characters stay literal.
    return quote(text, safe="-_.~")


def assume_role(emulator, role_arn=ROLE_ARN, secret=SECRET, method="POST", **extra):
    """Signs and sends AssumeRole; this signer is written from Alibaba's documentation."""
    params = {
        "Action": "AssumeRole",
        "Version": "2015-04-01",
        "Format": "JSON",
        "AccessKeyId": ACCESS_ID,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": str(uuid.uuid4()),
        "Timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "RoleArn": role_arn,
        "RoleSessionName": "pytest-session",
        **extra,
    }
    canonical = "&".join(f"{pop_encode(k)}={pop_encode(v)}" for k, v in sorted(params.items()))
    to_sign = f"{method}&{pop_encode('/')}&{pop_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    params["Signature"] = base64.b64encode(digest).decode()
    if method == "POST":
        return requests.post(emulator.sts, data=params, timeout=30)
    return requests.get(emulator.sts, params=params, timeout=30)


def credentials(emulator):
    resp = assume_role(emulator)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    creds = body["Credentials"]
    assert creds["AccessKeyId"].startswith("STS.")
    assert body["AssumedRoleUser"]["Arn"] == f"{ROLE_ARN}/pytest-session"
    datetime.strptime(creds["Expiration"], "%Y-%m-%dT%H:%M:%SZ")
    return creds


def test_sts_credentials_upload_and_read(emulator):
    creds = credentials(emulator)
    account = StsAccount(creds["AccessKeyId"], creds["AccessKeySecret"], creds["SecurityToken"])
    o = emulator.odps(account=account)
    tunnel = TableTunnel(o)
    session = tunnel.create_upload_session("sts_target")
    with session.open_record_writer(0) as writer:
        writer.write(session.new_record(["via sts"]))
    session.commit([0])
    with o.get_table("sts_target").open_reader() as reader:
        assert [list(r.values) for r in reader] == [["via sts"]]


def test_get_form_of_assume_role(emulator):
    resp = assume_role(emulator, method="GET")
    assert resp.status_code == 200, resp.text


def test_wrong_or_missing_token_is_refused(emulator):
    creds = credentials(emulator)
    wrong = StsAccount(creds["AccessKeyId"], creds["AccessKeySecret"], "CAISnot-the-token")
    with pytest.raises(errors.Unauthorized):
        emulator.odps(account=wrong).get_table("flat").reload()
    missing = StsAccount(creds["AccessKeyId"], creds["AccessKeySecret"], None)
    with pytest.raises(errors.Unauthorized):
        emulator.odps(account=missing).get_table("flat").reload()


def test_expired_token_gives_authentication_request_expired(short_lived_emulator):
    creds = credentials(short_lived_emulator)
    account = StsAccount(creds["AccessKeyId"], creds["AccessKeySecret"], creds["SecurityToken"])
    o = short_lived_emulator.odps(account=account)
    o.get_table("flat").reload()
    time.sleep(1.5)
    with pytest.raises(errors.AuthenticationRequestExpired):
        TableTunnel(o).create_upload_session("flat")


@pytest.mark.parametrize(
    "kwargs,status,code",
    [
        ({"secret": "wrong"}, 400, "SignatureDoesNotMatch"),
        ({"role_arn": "acs:ram::1234567890:role/unknown"}, 404, "EntityNotExist.Role"),
        ({"role_arn": "not-an-arn"}, 400, "InvalidParameter.RoleArn"),
        ({"DurationSeconds": "100"}, 400, "InvalidParameter.DurationSeconds"),
    ],
)
def test_assume_role_errors(emulator, kwargs, status, code):
    resp = assume_role(emulator, **kwargs)
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["Code"] == code
    assert body["RequestId"] and body["Message"] and body["Recommend"]
