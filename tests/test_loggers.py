"""W&B goes offline by itself without credentials, and never prompts."""

from omegaconf import OmegaConf

from alexnet.loggers import instantiate_loggers, wandb_has_credentials

WANDB_CFG = {
    "wandb": {
        "_target_": "lightning.pytorch.loggers.WandbLogger",
        "project": "test",
        "offline": False,
    }
}


def without_wandb_env(monkeypatch, tmp_path, netrc_text: str) -> None:
    for name in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "netrc").write_text(netrc_text)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))


def test_no_credentials_means_offline(monkeypatch, tmp_path):
    without_wandb_env(monkeypatch, tmp_path, "machine example.com login x password y\n")
    assert not wandb_has_credentials()
    (logger,) = instantiate_loggers(OmegaConf.create(WANDB_CFG))
    assert logger._offline


def test_a_wandb_login_keeps_it_online(monkeypatch, tmp_path):
    without_wandb_env(monkeypatch, tmp_path, "machine api.wandb.ai login user password k\n")
    assert wandb_has_credentials()
    (logger,) = instantiate_loggers(OmegaConf.create(WANDB_CFG))
    assert not logger._offline


def test_api_key_in_the_environment_counts(monkeypatch, tmp_path):
    without_wandb_env(monkeypatch, tmp_path, "")
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert wandb_has_credentials()
