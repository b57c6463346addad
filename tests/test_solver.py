"""CaptioningSolver: seeding, learning-rate decay, histories, validation and clear errors."""

import numpy as np
import pytest

from assignment.solver import CaptioningSolver
from autograder.answer_key.solution import reference

CaptioningRNN = reference().CaptioningRNN


def _model(data, cell_type="rnn", seed=0, dtype=np.float64):
    return CaptioningRNN(data["word_to_idx"], input_dim=data["train_features"].shape[1],
                         wordvec_dim=8, hidden_dim=12, cell_type=cell_type, dtype=dtype, seed=seed)


def _solver(data, model=None, **kw):
    opts = dict(update_rule="adam", optim_config={"learning_rate": 1e-2}, batch_size=10,
                num_epochs=2, verbose=False, progress=False, seed=3)
    opts.update(kw)
    return CaptioningSolver(model or _model(data), data, **opts)


def test_same_seed_gives_identical_runs_and_global_rng_is_untouched(tiny_data):
    np.random.seed(123)
    before = np.random.random()
    np.random.seed(123)
    a = _solver(tiny_data)
    a.train()
    assert np.random.random() == before  # the solver never touches the global RNG
    b = _solver(tiny_data)
    b.train()
    assert a.loss_history == b.loss_history
    c = _solver(tiny_data, seed=4)
    c.train()
    assert a.loss_history != c.loss_history


def test_iterations_epochs_and_loss_history(tiny_data):
    s = _solver(tiny_data, batch_size=10, num_epochs=3)  # 40 captions / 10 = 4 per epoch
    history = s.train()
    assert len(history) == 12 and s.epoch == 3
    assert all(isinstance(v, float) for v in history)


def test_training_reduces_the_loss(tiny_data):
    s = _solver(tiny_data, num_epochs=100, batch_size=40, optim_config={"learning_rate": 5e-2})
    s.train()
    assert np.mean(s.loss_history[-3:]) < 0.7 * np.mean(s.loss_history[:3])


def test_learning_rate_decays_once_per_epoch(tiny_data):
    s = _solver(tiny_data, lr_decay=0.5, num_epochs=3)
    s.train()
    for config in s.optim_configs.values():
        assert config["learning_rate"] == pytest.approx(1e-2 * 0.5 ** 3)


def test_each_parameter_gets_its_own_optimizer_state(tiny_data):
    s = _solver(tiny_data, num_epochs=1)
    s.train()
    ms = [id(c["m"]) for c in s.optim_configs.values()]
    assert len(set(ms)) == len(ms)
    assert all(s.optim_configs[p]["m"].shape == s.model.params[p].shape for p in s.model.params)


def test_max_iterations_shortens_the_run(tiny_data):
    s = _solver(tiny_data, num_epochs=50, max_iterations=7)
    s.train()
    assert len(s.loss_history) == 7


def test_validation_records_val_loss_and_bleu_every_epoch(tiny_data):
    s = _solver(tiny_data, num_epochs=2, validate=True, val_bleu_images=5)
    s.train()
    assert len(s.val_loss_history) == 2 and all(np.isfinite(s.val_loss_history))
    assert len(s.val_bleu_history) == 2 and set(s.val_bleu_history[0]) == {"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4"}


def test_progress_bar_and_verbose_output(tiny_data, capsys):
    s = _solver(tiny_data, num_epochs=1, verbose=True, progress=True, print_every=2)
    s.train()
    captured = capsys.readouterr()
    assert "(Iteration 1 / 4) loss:" in captured.out
    assert "training" in captured.err and "4/4" in captured.err  # tqdm bar on stderr


def test_standard_positional_api_and_sgd(tiny_data):
    model = _model(tiny_data)
    s = CaptioningSolver(model, tiny_data, update_rule="sgd", optim_config={"learning_rate": 0.1},
                         lr_decay=1.0, batch_size=20, num_epochs=1, print_every=10, verbose=False,
                         progress=False)
    s.train()
    assert len(s.loss_history) == 2


def test_a_diverging_loss_stops_with_a_helpful_message(tiny_data):
    s = _solver(tiny_data, optim_config={"learning_rate": 1e300}, update_rule="sgd", num_epochs=5)
    with pytest.raises(FloatingPointError, match="learning rate"):
        with np.errstate(all="ignore"):
            s.train()


@pytest.mark.parametrize("kwargs, error, message", [
    ({"update_rule": "rmsprop_typo"}, ValueError, "update_rule 'rmsprop_typo'"),
    ({"batch_size": 0}, ValueError, "batch_size must be a positive integer"),
    ({"num_epochs": 2.5}, ValueError, "num_epochs must be a positive integer"),
    ({"learning_rate": 1e-3}, TypeError, "unexpected argument"),
])
def test_bad_arguments_are_named(tiny_data, kwargs, error, message):
    with pytest.raises(error, match=message):
        _solver(tiny_data, **kwargs)


def test_missing_data_keys_are_named(tiny_data):
    model = _model(tiny_data)
    del tiny_data["train_features"]
    with pytest.raises(KeyError, match="train_features"):
        CaptioningSolver(model, tiny_data, verbose=False)
