"""JWT bearer tokens from the organisation's identity provider (RS256 / ES256)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from cryptography.x509 import load_pem_x509_certificate

from service.config import ConfigError, JwtSettings
from service.domain.fields import text_fault
from service.domain.principal import Principal

PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----.+?-----END \1-----", re.S)
# What a provider publishes its keys as: a public key (SPKI), an RSA one (PKCS#1), or a
# certificate holding one.
KEY_BLOCKS = (b"PUBLIC KEY", b"RSA PUBLIC KEY")
CERTIFICATES = (b"CERTIFICATE", b"X509 CERTIFICATE")
ALGORITHMS = ("RS256", "ES256")
MAX_PRINCIPAL_LENGTH = 200  # the store's principal columns are String(200)


class TokenError(ValueError):
    """Why a token is refused (the caller gets 401)."""


class TokenConfigError(ConfigError):
    """The identity provider's keys cannot be read."""


@dataclass(frozen=True)
class TokenVerifier:
    public_keys: tuple
    issuer: str
    audience: str
    principal_claim: str = "sub"
    role_claim: str = "amends_role"
    algorithms: tuple[str, ...] = ALGORITHMS
    leeway_seconds: int = 30

    @classmethod
    def from_settings(cls, jwt_settings: JwtSettings | None) -> TokenVerifier | None:
        """None unless JWTs are configured (AMENDS_JWT_PUBLIC_KEYS and the rest)."""
        if jwt_settings is None:
            return None
        return cls(load_public_keys(jwt_settings.public_keys), jwt_settings.issuer,
                   jwt_settings.audience, jwt_settings.principal_claim, jwt_settings.role_claim)

    def verify(self, token: str, roles: set[str] | dict) -> Principal:
        """The principal of a valid token whose role is one of `roles` (the active policy's)."""
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.InvalidTokenError as error:
            raise TokenError(f"the token is not valid: {error}") from None
        if algorithm not in self.algorithms:
            raise TokenError(f"algorithm {algorithm!r} is not accepted; use "
                             f"{' or '.join(self.algorithms)}")
        claims = None
        for key in (k for k in self.public_keys if fits(k, algorithm)):
            try:
                claims = jwt.decode(token, key, algorithms=[algorithm],
                                    audience=self.audience, issuer=self.issuer,
                                    leeway=self.leeway_seconds,
                                    options={"require": ["exp", "iss", "aud"]})
                break
            except (jwt.InvalidSignatureError, jwt.InvalidKeyError):
                continue  # perhaps another of the provider's keys
            except jwt.ExpiredSignatureError:
                raise TokenError("the token has expired") from None
            except jwt.PyJWTError as error:
                raise TokenError(f"the token is not valid: {error}") from None
        if claims is None:
            raise TokenError("the token's signature does not match a configured key")
        principal, role = claims.get(self.principal_claim), claims.get(self.role_claim)
        if not isinstance(principal, str) or not principal:
            raise TokenError(f"the token has no `{self.principal_claim}` claim")
        fault = principal_fault(principal)
        if fault:
            raise TokenError(f"the token's `{self.principal_claim}` claim {fault}")
        if not isinstance(role, str) or role not in roles:
            raise TokenError(f"the token's `{self.role_claim}` claim names no role of the "
                             "policy")
        return Principal(principal, role)


def fits(key, algorithm: str) -> bool:
    """Whether a provider's key can verify `algorithm`: RS256 an RSA key, ES256 an EC key on
    P-256 (a provider may publish keys on other curves too, for other algorithms)."""
    if algorithm == "RS256":
        return isinstance(key, RSAPublicKey)
    return isinstance(key, EllipticCurvePublicKey) and key.curve.name == "secp256r1"


def principal_fault(principal: str) -> str | None:
    """Why `principal` could not be recorded as who granted or decided, and shown on a line
    of its own (logs, `amends policy versions`, exports), or None."""
    if len(principal) > MAX_PRINCIPAL_LENGTH:
        return f"is longer than {MAX_PRINCIPAL_LENGTH} characters"
    fault = text_fault(principal)
    if fault:
        return f"is not usable: {fault.rstrip('.')}"
    if not principal.strip():
        return "is blank"
    control = next((c for c in principal if unicodedata.category(c) in ("Cc", "Zl", "Zp")),
                   None)
    if control is not None:  # a line break would fake lines where it is shown
        return f"holds a control character (U+{ord(control):04X})"
    return None


def load_public_keys(path: str | Path) -> tuple:
    """Every key of the PEM file: public keys and certificates; TokenConfigError (one line
    at start) for a file that cannot be read, holds none, or holds a block that is no key
    or certificate, or cannot be read as one."""
    try:
        content = Path(path).read_bytes()
    except OSError as error:
        raise TokenConfigError(f"cannot read JWT public keys {path}: {error}") from None
    found = list(PEM_BLOCK.finditer(content))
    if not found:
        raise TokenConfigError(f"{path} holds no PEM public key")
    if content.count(b"-----BEGIN ") != len(found):  # one cut short, or closed as another
        raise TokenConfigError(f"{path}: a PEM block has no END line of its own kind: every "
                               "key the file holds is needed, or tokens it signed are refused")
    keys = []
    for number, block in enumerate(found, 1):
        kind, text = block.group(1), block.group(0)
        if kind not in (*KEY_BLOCKS, *CERTIFICATES):
            raise TokenConfigError(f"{path}: PEM block {number} is a {kind.decode()}, not a "
                                   "public key or certificate")
        try:
            keys.append(load_pem_public_key(text) if kind in KEY_BLOCKS
                        else load_pem_x509_certificate(text).public_key())
        except ValueError as error:
            raise TokenConfigError(f"{path}: PEM block {number} ({kind.decode()}) cannot be "
                                   f"read: {error}") from None
    if not any(fits(key, algorithm) for key in keys for algorithm in ALGORITHMS):
        raise TokenConfigError(f"{path}: no key verifies {' or '.join(ALGORITHMS)} (an RSA "
                               "key, or an EC key on P-256)")
    return tuple(keys)


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2
