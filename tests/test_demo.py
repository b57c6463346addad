"""The main job end to end on a small build of the embedded dataset: train, BLEU table, figures."""

from assignment import synthetic_coco
from autograder.demo.demo import run_demo


def test_demo_trains_reports_bleu_against_baselines_and_writes_figures(tmp_path, capsys):
    data_dir = tmp_path / "data"
    synthetic_coco.build_dataset(data_dir, seed=5, num_train=200, num_val=40, verbose=False)
    rows = run_demo(out_dir=tmp_path / "out", data_dir=data_dir, num_epochs=1)
    out = capsys.readouterr().out
    assert set(rows) == {"reference LSTM", "most frequent caption", "nearest neighbour"}
    for scores in rows.values():
        assert set(scores) == {"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4"}
        assert all(0.0 <= v <= 1.0 for v in scores.values())
    assert "BLEU on the 40 val images" in out and "nearest neighbour" in out
    for name in ("demo_loss.png", "demo_captions.png"):
        assert (tmp_path / "out" / name).stat().st_size > 10_000
