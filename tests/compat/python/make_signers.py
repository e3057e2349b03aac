"""Creates the policy signer keys and certificates the compatibility suite uses.

Usage: python make_signers.py OUT_DIR

Writes, for each of `trusted` (the isolated provider is created with it), `extra` (added and
removed through the SDK) and `rogue` (never trusted), NAME.key.pem (PKCS#8 RSA-2048) and
NAME.crt.pem (self-signed, valid from an hour ago for two days). The SDK signs policy JWS with
RSA keys only ("RSA256"); its EC path calls cryptography wrongly, so RSA it is.
"""

import datetime
import pathlib
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

NAMES = ("trusted", "extra", "rogue")


def make(out: pathlib.Path, name: str) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, f"attesto compat policy signer {name}")]
    )
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (out / f"{name}.key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (out / f"{name}.crt.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for name in NAMES:
        make(out, name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
