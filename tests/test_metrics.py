import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from jaxnets.metrics import (
    classification_metrics,
    classification_report,
    confidence_analysis,
    confusion_matrix,
    evaluate_classifier,
    roc_auc,
)


@given(st.integers(2, 6), st.integers(1, 80), st.integers(0, 2**31 - 1))
def test_scores_equal_sklearn(k, n, seed):
    rng = np.random.default_rng(seed)
    y_true, y_pred = rng.integers(0, k, n), rng.integers(0, k, n)
    m = classification_metrics(y_true, y_pred, k)
    labels = list(range(k))
    np.testing.assert_array_equal(m["confusion_matrix"], skm.confusion_matrix(y_true, y_pred, labels=labels))
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred))
    p, r, f, s = skm.precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    np.testing.assert_allclose(m["per_class"]["precision"], p)
    np.testing.assert_allclose(m["per_class"]["recall"], r)
    np.testing.assert_allclose(m["per_class"]["f1"], f)
    np.testing.assert_array_equal(m["per_class"]["support"], s)
    for avg in ("macro", "weighted"):
        p, r, f, _ = skm.precision_recall_fscore_support(y_true, y_pred, labels=labels, average=avg, zero_division=0)
        assert (m[avg]["precision"], m[avg]["recall"], m[avg]["f1"]) == pytest.approx((p, r, f))


def test_report_text_equals_sklearn():
    rng = np.random.default_rng(1)
    y_true, y_pred = rng.integers(0, 3, 60), rng.integers(0, 3, 60)
    names = ["malignant", "benign", "other"]
    ours = classification_report(classification_metrics(y_true, y_pred, 3), names)
    assert ours == skm.classification_report(y_true, y_pred, target_names=names)


@given(st.integers(2, 60), st.integers(0, 2**31 - 1), st.booleans())
def test_roc_auc_equals_sklearn_with_ties(n, seed, ties):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[0], y[1] = 0, 1
    scores = rng.integers(0, 4, n).astype(float) if ties else rng.normal(size=n)
    assert roc_auc(y, scores) == pytest.approx(skm.roc_auc_score(y, scores))


def test_confidence_analysis_matches_seed_definition():
    p1 = np.array([0.95, 0.7, 0.55, 0.1, 0.35])  # binary sigmoid outputs
    proba = np.stack([1 - p1, p1], axis=1)
    y = np.array([1, 0, 1, 0, 0])
    c = confidence_analysis(proba, y)
    seed_conf = np.abs(p1 - 0.5) + 0.5
    assert c["mean"] == pytest.approx(seed_conf.mean()) and c["max"] == pytest.approx(0.95)
    assert c["bands"]["high (>0.8)"] == {"count": 2, "accuracy": 1.0}  # 0.95 and 0.9
    assert c["bands"]["medium (0.6-0.8]"] == {"count": 2, "accuracy": 0.5}  # 0.7 (wrong), 0.65 (right)
    assert c["bands"]["low (<=0.6)"] == {"count": 1, "accuracy": 1.0}


def test_evaluate_classifier_binary_has_auc_and_weighted_scores():
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    y = np.array([0, 1, 1, 1])
    out = evaluate_classifier(proba, y, ("malignant", "benign"))
    assert out["accuracy"] == 0.75 and out["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba[:, 1]))
    assert out["f1"] == pytest.approx(skm.f1_score(y, proba.argmax(1), average="weighted"))


def test_metric_errors():
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix([0, 3], [0, 1], 3)
    with pytest.raises(ValueError, match="equal length"):
        confusion_matrix([0, 1], [0], 2)
    with pytest.raises(ValueError, match="both classes"):
        roc_auc([1, 1], [0.2, 0.3])


def test_forward_flops_matches_closed_forms():
    import flax.linen as nn

    from jaxnets.metrics import forward_flops
    from jaxnets.models import MLP

    # Dense layers: 2·fan_in·fan_out multiply-adds per example (bias and ReLU add < 2 %).
    mlp = 2 * (64 * 128 + 128 * 64 + 64 * 10)
    assert forward_flops(MLP((128, 64, 10)), np.zeros((5, 64), np.float32)) == pytest.approx(mlp, rel=0.02)
    # One 3×3 'VALID' convolution on 8×8×3 -> 6×6×16 without bias: 2·H'·W'·kh·kw·c_in·c_out exactly.
    conv = nn.Conv(16, (3, 3), padding="VALID", use_bias=False)
    assert forward_flops(conv, np.zeros((2, 8, 8, 3), np.float32)) == pytest.approx(2 * 6 * 6 * 9 * 3 * 16)
    # 'SAME': only the taps that land inside the image count (per axis 2 + 6·3 + 2 = 22 of 24).
    same = nn.Conv(16, (3, 3), padding="SAME", use_bias=False)
    assert forward_flops(same, np.zeros((2, 8, 8, 3), np.float32)) == pytest.approx(2 * 22 * 22 * 3 * 16)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 40), k=st.sampled_from([None, 1, 3]), seed=st.integers(0, 1000))
def test_evaluate_regressor_equals_sklearn(n, k, seed):
    from jaxnets.metrics import evaluate_regressor

    rng = np.random.default_rng(seed)
    shape = (n,) if k is None else (n, k)
    y, p = rng.normal(size=shape) * 10, rng.normal(size=shape) * 10
    out = evaluate_regressor(y, p)
    assert np.isclose(out["mse"], skm.mean_squared_error(y, p))
    assert np.isclose(out["rmse"], np.sqrt(skm.mean_squared_error(y, p)))
    assert np.isclose(out["mae"], skm.mean_absolute_error(y, p))
    assert np.isclose(out["r2"], skm.r2_score(y, p))
    assert evaluate_regressor(y, y)["r2"] == 1.0


def test_evaluate_regressor_rejects_mismatched_shapes():
    from jaxnets.metrics import evaluate_regressor

    with pytest.raises(ValueError, match=r"y_true \(5,\) and y_pred \(5, 1\)"):
        evaluate_regressor(np.zeros(5), np.zeros((5, 1)))
