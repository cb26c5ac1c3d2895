"""Start Index Data's Zebra (Debian ``idzebra-2.0``) over a MARC file, speaking SRU:
the other server our SRU client is tested against and the benchmark compares with.

    with zebra_server(tmp_path, Path("records.mrc")) as url:
        Client(url).count("dc.title = viet")
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TAB = "/usr/share/idzebra-2.0/tab"
YAZ_ETC = Path("/usr/share/yaz/etc")


def available() -> bool:
    return bool(shutil.which("zebrasrv") and shutil.which("zebraidx")
                and (YAZ_ETC / "pqf.properties").exists())


#: Zebra's shipped usmarc.abs indexes no ISBN: bath.isbn (bib-1 use 7) needs 020, written
#: as usmarc.abs writes 100 (the field, then its subfields as words).
_ISBN_ABS = "elm 020\t\t\tISBN\t\t-\nelm 020/?\t\t\tISBN\t\t!:w\n"


def configure(workdir: Path, marc: Path, port: int = 0) -> Path:
    """Write zebra.cfg and yazserver.xml in ``workdir`` and index ``marc`` (UTF-8 ISO 2709)."""
    (workdir / "reg").mkdir(exist_ok=True)
    # A copy of the shipped usmarc.abs with the ISBN line, found first on profilePath.
    (workdir / "usmarc.abs").write_text(
        (Path(TAB) / "usmarc.abs").read_text(encoding="utf-8") + _ISBN_ABS, encoding="utf-8")
    (workdir / "zebra.cfg").write_text(
        f"profilePath: {workdir.resolve()}:{TAB}\n"
        "attset: bib1.att\nattset: explain.att\n"
        "recordType: grs.marc.usmarc\n"
        "encoding: utf-8\n"
        "register: reg:500M\n"
        "isam: b\n", encoding="utf-8")
    marcxml = ('<marc inputformat="marc" outputformat="marcxml" inputcharset="utf-8" '
               'outputcharset="utf-8"/>')
    (workdir / "yazserver.xml").write_text(f"""<yazgfs>
  <listen id="public">tcp:@:{port}</listen>
  <server id="zebra" listenref="public">
    <config>zebra.cfg</config>
    <cql2rpn>{YAZ_ETC / "pqf.properties"}</cql2rpn>
    <retrievalinfo>
      <retrieval syntax="xml" name="marcxml" identifier="info:srw/schema/1/marcxml-v1.1">
        <backend syntax="usmarc" name="F">{marcxml}</backend>
      </retrieval>
      <retrieval syntax="xml" name="dc" identifier="info:srw/schema/1/dc-v1.1">
        <backend syntax="usmarc" name="F">{marcxml}
          <xslt stylesheet="{YAZ_ETC / "MARC21slim2DC.xsl"}"/></backend>
      </retrieval>
      <retrieval syntax="xml" name="mods" identifier="info:srw/schema/1/mods-v3.7">
        <backend syntax="usmarc" name="F">{marcxml}
          <xslt stylesheet="{YAZ_ETC / "MARC21slim2MODS.xsl"}"/></backend>
      </retrieval>
      <retrieval syntax="usmarc" name="F"/>
    </retrievalinfo>
  </server>
</yazgfs>
""", encoding="utf-8")
    subprocess.run(["zebraidx", "-c", "zebra.cfg", "init"], cwd=workdir, check=True,
                   capture_output=True)
    subprocess.run(["zebraidx", "-c", "zebra.cfg", "update", str(marc.resolve())], cwd=workdir, check=True,
                   capture_output=True)
    return workdir / "yazserver.xml"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def zebra_server(workdir: Path, marc: Path) -> Iterator[str]:
    """Index ``marc`` and serve it with zebrasrv on 127.0.0.1; yield the SRU base URL."""
    port = _free_port()
    cfg = configure(workdir, marc, port)
    proc = subprocess.Popen(["zebrasrv", "-f", str(cfg)], cwd=workdir,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/Default"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
