"""Production settings: Django's deployment checklist passes, and missing secrets or a missing
settings module stop the start."""

import os
import shlex
import signal
import subprocess
import sys
import time

import pytest
from cryptography.fernet import Fernet

from fieldops.services.webpush import vapid_key_generate

from .servers import ROOT, START_TIMEOUT, _healthy, _stop, free_port

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "fieldops.settings.production",
    "SECRET_KEY": "production-check-" + "k7Qx9vR2mZ4pL8sT1wY6nB3cF5hJ0dG" * 2,
    "FIELD_ENCRYPTION_KEYS": "",  # filled per run with a fresh key
    "ALLOWED_HOSTS": "fieldops.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://fieldops.example.org",
    "PUBLIC_URL": "https://fieldops.example.org",
    "VAPID_PRIVATE_KEY": vapid_key_generate(),  # made afresh, never a committed key
    # Never connected to: `check` reads the settings only.
    "DATABASE_URL": "postgres://fieldops:unused@127.0.0.1:9/fieldops",
    "REDIS_URL": "redis://127.0.0.1:9/0",
    "FIELDOPS_WORKERS": "4",
}


def run_manage(*args: str, drop: tuple[str, ...] = (), **extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DEBUG"}}
    env.update(PRODUCTION_ENV, FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(), **extra)
    for name in drop:
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_check_deploy_reports_no_issues_under_production_settings():
    done = run_manage("check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stderr
    assert "no issues" in done.stdout


@pytest.mark.parametrize(
    "setting", ["SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "PUBLIC_URL", "DATABASE_URL", "REDIS_URL"]
)
def test_production_refuses_to_start_without_a_required_setting_and_names_it(setting):
    done = run_manage("check", drop=(setting,))
    assert done.returncode != 0
    assert setting in done.stderr


def test_production_without_postgresql_and_redis_names_the_setting_that_allows_one_process():
    done = run_manage("check", drop=("DATABASE_URL", "REDIS_URL"))
    assert done.returncode != 0
    assert "Set DATABASE_URL and REDIS_URL" in done.stderr
    assert "FIELDOPS_SINGLE_PROCESS=1" in done.stderr


def test_a_single_process_on_sqlite_passes_check_deploy_when_asked_for():
    single = {
        "FIELDOPS_SINGLE_PROCESS": "1",
        "FIELDOPS_WORKERS": "1",
        "DATABASE_URL": "sqlite:///:memory:",
    }
    done = run_manage("check", "--deploy", "--fail-level", "WARNING", drop=("REDIS_URL",), **single)
    assert done.returncode == 0, done.stderr


def test_check_warns_when_several_workers_are_configured_without_redis():
    single = {"FIELDOPS_SINGLE_PROCESS": "1", "FIELDOPS_WORKERS": "4"}
    done = run_manage("check", "--deploy", "--fail-level", "WARNING", drop=("REDIS_URL",), **single)
    assert done.returncode != 0
    assert "fieldops.W102" in done.stderr
    assert "FIELDOPS_WORKERS is 4 but there is no REDIS_URL" in done.stderr
    with_redis = run_manage("check", "--deploy", "--fail-level", "WARNING", FIELDOPS_WORKERS="4")
    assert with_redis.returncode == 0, with_redis.stderr


def test_production_refuses_the_example_files_placeholder_secret_key():
    env = {**os.environ, **PRODUCTION_ENV, "SECRET_KEY": "CHANGE-ME"}
    env["FIELD_ENCRYPTION_KEYS"] = Fernet.generate_key().decode()
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0
    assert "SECRET_KEY" in done.stderr


def test_the_worker_refuses_to_start_without_django_settings_module():
    """A missing line in the environment file must not run DEBUG with the published SECRET_KEY."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(PYTHON=sys.executable, DATABASE_URL="sqlite:///:memory:")
    env.pop("REDIS_URL", None)
    port = free_port()
    worker = subprocess.Popen(
        [str(ROOT / "deploy" / "worker"), str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while worker.poll() is None and time.monotonic() < deadline:
            assert not _healthy(port), "the worker serves with development settings"
            time.sleep(0.1)
    finally:
        _stop(worker)
        _, stderr = worker.communicate()
    assert worker.returncode not in (0, None, -signal.SIGTERM)
    assert "DJANGO_SETTINGS_MODULE" in stderr


def purge_unit_guard() -> list[str]:
    """The purge unit's ExecStartPre command line, as systemd would run it ($$ is a literal $)."""
    unit = (ROOT / "deploy" / "systemd" / "fieldops-purge.service").read_text()
    line = next(x for x in unit.splitlines() if x.startswith("ExecStartPre="))
    return shlex.split(line.removeprefix("ExecStartPre=").replace("$$", "$"))


def test_the_purge_unit_refuses_to_run_without_django_settings_module():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    refused = subprocess.run(purge_unit_guard(), env=env, capture_output=True, text=True)
    assert refused.returncode != 0
    assert "DJANGO_SETTINGS_MODULE" in refused.stderr
    env["DJANGO_SETTINGS_MODULE"] = "fieldops.settings.production"
    assert subprocess.run(purge_unit_guard(), env=env).returncode == 0
