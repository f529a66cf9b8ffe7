"""Production settings: Django's deployment checklist passes, and missing secrets stop the start."""

import os
import subprocess
import sys

from cryptography.fernet import Fernet

from .servers import ROOT

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "fieldops.settings.production",
    "SECRET_KEY": "production-check-" + "k7Qx9vR2mZ4pL8sT1wY6nB3cF5hJ0dG" * 2,
    "FIELD_ENCRYPTION_KEYS": "",  # filled per run with a fresh key
    "ALLOWED_HOSTS": "fieldops.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://fieldops.example.org",
    "PUBLIC_URL": "https://fieldops.example.org",
    "DATABASE_URL": "sqlite:///:memory:",
}


def run_manage(*args: str, drop: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DEBUG"}}
    env.update(PRODUCTION_ENV, FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode())
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


def test_production_refuses_to_start_without_secret_key():
    done = run_manage("check", drop=("SECRET_KEY",))
    assert done.returncode != 0
    assert "SECRET_KEY" in done.stderr


def test_production_refuses_to_start_without_field_encryption_keys():
    done = run_manage("check", drop=("FIELD_ENCRYPTION_KEYS",))
    assert done.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS" in done.stderr
