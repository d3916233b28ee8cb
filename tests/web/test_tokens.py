"""JWT bearer tokens signed by the organisation's identity provider (keys made here)."""

import hashlib
import re
import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from service.config import ConfigError, Settings
from service.web.app_factory import create_app
from service.web.tokens import TokenVerifier, load_public_keys
from tests.conftest import design_example, test_settings

ISSUER, AUDIENCE = "https://id.example.test/", "amends"
ROLES = {"agent", "team_lead", "supervisor", "manager"}


def pem(private_key) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path_factory.mktemp("jwt") / "idp-public-keys.pem"
    # A provider's keys for other algorithms too (an ES384 key, first): never tried for ES256.
    path.write_bytes(pem(ec.generate_private_key(ec.SECP384R1())) + pem(rsa_key) + pem(ec_key))
    return {"rsa": rsa_key, "ec": ec_key, "file": path}


@pytest.fixture(scope="module")
def token_client(keys, shipped, store):
    verifier = TokenVerifier(load_public_keys(keys["file"]), ISSUER, AUDIENCE,
                             principal_claim="email", role_claim="amends_role")
    app = create_app(test_settings(), active_policy=shipped, store=store, tokens=verifier)
    return app.test_client()


def token(key, algorithm="RS256", **claims):
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300,
               "email": "ana@example.test", "amends_role": "team_lead", **claims}
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, key, algorithm=algorithm)


def decide(client, bearer):
    return client.post("/v1/decisions", json=design_example(),
                       headers={"Authorization": f"Bearer {bearer}"})


@pytest.mark.parametrize(("key_name", "algorithm"), [("rsa", "RS256"), ("ec", "ES256")])
def test_valid_tokens_carry_principal_and_role(token_client, keys, key_name, algorithm):
    response = decide(token_client, token(keys[key_name], algorithm))
    assert response.status_code == 201
    assert response.json["role"] == "team_lead"
    assert response.json["offers"][0]["approval"] == "not_required"  # the team lead's limits
    stored = token_client.get(f"/v1/decisions/{response.json['decision_id']}",
                              headers={"Authorization": f"Bearer {token(keys['ec'], 'ES256')}"})
    assert stored.json["principal"] == "ana@example.test"


def test_api_keys_still_work_beside_tokens(token_client):
    assert decide(token_client, "dev-agent-key").status_code == 201


def test_a_key_shaped_like_a_token_is_still_a_key(keys, shipped, store, tmp_path):
    """A key with two dots (`team.agent.key`) is looked up in the key file first: with
    tokens configured it had been read as a token, and refused."""
    key_file = tmp_path / "keys.yaml"
    key_file.write_text("keys:\n  - principal: dotted\n    role: agent\n    sha256: "
                        f"{hashlib.sha256(b'team.agent.key').hexdigest()}\n")
    verifier = TokenVerifier(load_public_keys(keys["file"]), ISSUER, AUDIENCE)
    client = create_app(test_settings(api_keys_file=key_file), active_policy=shipped,
                        store=store, tokens=verifier).test_client()
    me = client.get("/v1/me", headers={"Authorization": "Bearer team.agent.key"})
    assert me.status_code == 200, me.json
    assert me.json["principal"] == "dotted"
    other = client.get("/v1/me", headers={"Authorization": "Bearer team.agent.other"})
    assert other.status_code == 401 and "Token refused" in other.json["detail"]


def test_a_token_naming_an_api_keys_holder_is_401(token_client, keys):
    """They would share one daily budget, one 'never your own request' and one history of
    grants: a token's principal is never the holder of a key."""
    answer = decide(token_client, token(keys["rsa"], email="dev-manager"))
    assert answer.status_code == 401
    assert "is an API key's holder" in answer.json["detail"]


@pytest.mark.parametrize("case", ["expired", "other_key", "other_ec_key", "bad_ec_signature",
                                  "issuer", "audience", "role", "no_role", "no_principal",
                                  "no_exp", "alg_none", "hs256"])
def test_bad_tokens_are_401(token_client, keys, case):
    bearer = {
        "expired": lambda: token(keys["rsa"], exp=int(time.time()) - 3600),
        "other_key": lambda: token(rsa.generate_private_key(public_exponent=65537,
                                                             key_size=2048)),
        "other_ec_key": lambda: token(ec.generate_private_key(ec.SECP256R1()), "ES256"),
        "bad_ec_signature": lambda: token(keys["ec"], "ES256").rsplit(".", 1)[0] + ".AAAA",
        "issuer": lambda: token(keys["rsa"], iss="https://evil.example.test/"),
        "audience": lambda: token(keys["rsa"], aud="someone-else"),
        "role": lambda: token(keys["rsa"], amends_role="ceo"),
        "no_role": lambda: token(keys["rsa"], amends_role=None),
        "no_principal": lambda: token(keys["rsa"], email=None),
        "no_exp": lambda: token(keys["rsa"], exp=None),
        "alg_none": lambda: jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "email": "x",
                                        "amends_role": "manager",
                                        "exp": int(time.time()) + 60}, None, algorithm="none"),
        "hs256": lambda: jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "email": "x",
                                     "amends_role": "manager", "exp": int(time.time()) + 60},
                                    "a-shared-secret-of-enough-length!", algorithm="HS256"),
    }[case]()
    response = decide(token_client, bearer)
    assert response.status_code == 401, response.json
    assert response.mimetype == "application/problem+json"
    assert "invalid_token" in response.headers["WWW-Authenticate"]


def test_configuration_from_the_environment(keys, monkeypatch):
    monkeypatch.setenv("AMENDS_JWT_PUBLIC_KEYS", str(keys["file"]))
    monkeypatch.setenv("AMENDS_JWT_ISSUER", ISSUER)
    with pytest.raises(ConfigError, match="AUDIENCE"):
        Settings.from_environment()
    monkeypatch.setenv("AMENDS_JWT_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("AMENDS_JWT_PRINCIPAL_CLAIM", "email")
    verifier = TokenVerifier.from_settings(Settings.from_environment().jwt)
    assert len(verifier.public_keys) == 3
    assert verifier.verify(token(keys["rsa"]), ROLES).role == "team_lead"


def test_a_provider_publishes_certificates_and_pkcs1_keys_too(keys, tmp_path):
    """Many identity providers publish a certificate, or an RSA key in PKCS#1: each is read,
    not skipped without a word (its tokens had all been 401s)."""
    rsa_key, ec_key = keys["rsa"], keys["ec"]
    pkcs1 = rsa_key.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.PKCS1)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp.example.test")])
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                   .public_key(ec_key.public_key()).serial_number(1)
                   .not_valid_before(datetime.now(UTC))
                   .not_valid_after(datetime.now(UTC) + timedelta(days=1))
                   .sign(ec_key, hashes.SHA256()))
    path = tmp_path / "idp.pem"
    legacy = certificate.public_bytes(serialization.Encoding.PEM).replace(
        b" CERTIFICATE-----", b" X509 CERTIFICATE-----")  # an older label of the same
    path.write_bytes(pkcs1 + legacy)
    verifier = TokenVerifier(load_public_keys(path), ISSUER, AUDIENCE, principal_claim="email")
    assert verifier.verify(token(rsa_key), ROLES).id == "ana@example.test"
    assert verifier.verify(token(ec_key, "ES256"), ROLES).id == "ana@example.test"


def test_a_key_file_with_a_block_that_is_no_usable_key_is_refused_in_a_line(keys, tmp_path):
    private = keys["rsa"].private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
    broken = b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
    cut_short = pem(keys["rsa"]).rsplit(b"-----END", 1)[0]
    other_end = pem(keys["rsa"]).replace(b"END PUBLIC KEY", b"END RSA PUBLIC KEY")
    ed25519 = Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    for content, why in [(pem(keys["rsa"]) + private, "block 2 is a PRIVATE KEY, not a public"),
                         (broken + pem(keys["rsa"]), "block 1 (PUBLIC KEY) cannot be read"),
                         (pem(keys["ec"]) + cut_short, "a PEM block has no END line"),
                         (pem(keys["ec"]) + other_end, "a PEM block has no END line"),
                         (ed25519, "no key verifies RS256 or ES256")]:
        path = tmp_path / "idp.pem"
        path.write_bytes(content)
        with pytest.raises(ConfigError, match=re.escape(why)):
            load_public_keys(path)
