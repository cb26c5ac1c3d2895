"""The registration validator openarchives.org runs before listing a repository
(the Perl HTTP::OAIPMH::Validator, github.com/zimeon/oaipmh-validator, on CPAN as
HTTP-OAIPMH-Validator) must find the server COMPLIANT with no warnings.

It is someone else's code, so it is not in this repository: the test runs when
Perl can load it (``cpanm HTTP::OAIPMH::Validator``, its dependencies from the
Debian packages listed in docs/deploying.md), or from a checkout named by
``OAIPMH_VALIDATOR_LIB`` (its ``lib`` folder)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from conftest import live_server
from oai_fixtures import fill

from thuvien_interop.oai import ProviderConfig
from thuvien_interop.web import create_app

_DRIVER = r"""
use strict; use HTTP::OAIPMH::Validator;
my $v = HTTP::OAIPMH::Validator->new(base_url => $ARGV[0]);
eval { $v->run_complete_validation; 1 } or print "ABORTED: $@\n";
print $v->failures;
printf "STATUS %s PASS %d WARN %d FAIL %d\n", ($v->status || 'unknown'),
       $v->log->num_pass, $v->log->num_warn, $v->log->num_fail;
"""


def _perl_args() -> list[str] | None:
    if shutil.which("perl") is None:
        return None
    lib = os.environ.get("OAIPMH_VALIDATOR_LIB")
    args = ["perl"] + ([f"-I{lib}"] if lib else [])
    probe = subprocess.run([*args, "-MHTTP::OAIPMH::Validator", "-e", "1"], capture_output=True)
    return args if probe.returncode == 0 else None


@pytest.mark.slow
def test_registration_validator_finds_the_server_compliant(tmp_path):
    args = _perl_args()
    if args is None:
        pytest.skip("HTTP::OAIPMH::Validator is not installed (cpanm HTTP::OAIPMH::Validator)")
    from thuvien_interop.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'v.db'}")
    fill(store)
    # A small page so that the validator also follows a resumptionToken.
    with live_server(create_app(store, ProviderConfig(page_size=10))) as root:
        out = subprocess.run([*args, "-e", _DRIVER, root + "/oai"], capture_output=True,
                             text=True, timeout=300)
    store.close()
    summary = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr
    assert summary.startswith("STATUS COMPLIANT"), out.stdout + out.stderr
    assert " WARN 0 FAIL 0" in summary, out.stdout
