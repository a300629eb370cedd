"""Cross-checks dsig's SM2-SM3 with PyPI's gmssl (a pure-Python implementation), both ways:
gmssl verifies the SignatureValue dsig made over a canonical SignedInfo, and dsig verifies a
signature gmssl makes over the same bytes (and refuses it over other bytes).

    pip install gmssl
    cargo build -p dsig --example sm2_vectors
    python3 crates/dsig/tools/gmssl_cross_check.py target/debug/examples/sm2_vectors

Not run by CI: it needs gmssl from PyPI (see the crate's report)."""
import subprocess
import sys

from gmssl import sm2

program = sys.argv[1]
private, public, message, signature = subprocess.run(
    [program], check=True, capture_output=True, text=True
).stdout.split()
# gmssl strips a leading "04" wrongly (lstrip): give it x||y without the prefix, never
# starting with "04".
assert not public.startswith("04"), "pick another seed: gmssl would mangle this key"
crypt = sm2.CryptSM2(private_key=private, public_key=public)
data = bytes.fromhex(message)
assert crypt.verify_with_sm3(signature, data), "gmssl refuses dsig's signature"
assert not crypt.verify_with_sm3(signature, data + b" "), "gmssl accepts a changed message"
theirs = crypt.sign_with_sm3(data)


def dsig_says(message_hex, signature_hex):
    return subprocess.run(
        [program, "verify", public, message_hex, signature_hex],
        check=True, capture_output=True, text=True,
    ).stdout.strip()


assert dsig_says(message, theirs) == "valid", "dsig refuses gmssl's signature"
assert dsig_says(message + "20", theirs) == "invalid", "dsig accepts a changed message"
print("2 passed, 0 failed")
