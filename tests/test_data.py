import numpy as np
import pytest

from jaxnets.data import DATASETS, Standardizer, load_embedded, one_hot, prepare


def test_breast_cancer_class_names_are_not_the_seeds_reversed_ones():
    ds = load_embedded("breast_cancer")
    assert ds.class_names == ("malignant", "benign")
    assert np.bincount(ds.y).tolist() == [212, 357]  # 0 = malignant (212), 1 = benign (357)


@pytest.mark.parametrize("name", DATASETS)
def test_all_embedded_datasets_load(name):
    ds = load_embedded(name)
    assert ds.x.dtype == np.float32 and ds.x.ndim == 2 and len(ds.x) == len(ds.y)
    assert np.all(np.isfinite(ds.x))
    if ds.task == "classification":
        assert ds.num_classes == len(np.unique(ds.y))


def test_seed_split_sizes_and_stratification():
    s = prepare(load_embedded("breast_cancer"), val_size=0.5, val_from="test", seed=42)
    assert (len(s.train["y"]), len(s.val["y"]), len(s.test["y"])) == (455, 57, 57)  # the seed's printout
    for part in (s.train, s.val, s.test):
        assert abs(part["y"].mean() - 357 / 569) < 0.02


def test_standardizer_uses_training_statistics_only():
    s = prepare(load_embedded("wine"), val_size=0.2, seed=0)
    np.testing.assert_allclose(s.train["x"].mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(s.train["x"].std(0), 1, atol=1e-4)
    assert np.abs(s.test["x"].mean(0)).max() > 1e-3  # test data was not re-fitted
    sc = Standardizer.fit(np.array([[1.0, 5.0], [3.0, 5.0]]))
    np.testing.assert_allclose(sc(np.array([[2.0, 5.0]])), [[0.0, 0.0]])  # constant feature: std 1


def test_split_is_deterministic_and_seed_dependent():
    ds = load_embedded("iris")
    a, b, c = (prepare(ds, seed=s) for s in (1, 1, 2))
    np.testing.assert_array_equal(a.test["x"], b.test["x"])
    assert not np.array_equal(a.test["x"], c.test["x"])


def test_errors():
    with pytest.raises(ValueError, match="unknown dataset 'mnist'"):
        load_embedded("mnist")
    with pytest.raises(ValueError, match="labels must lie in"):
        one_hot(np.array([0, 3]), 3)
    with pytest.raises(ValueError, match="test_size"):
        prepare(load_embedded("iris"), test_size=1.5)
    np.testing.assert_array_equal(one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])


def test_standardize_y_maps_back_exactly():
    raw = prepare(load_embedded("diabetes"), val_size=0.1, seed=0)
    s = prepare(load_embedded("diabetes"), val_size=0.1, seed=0, standardize_y=True)
    assert abs(s.train["y"].mean()) < 1e-5 and abs(s.train["y"].std() - 1) < 1e-5
    for split in ("train", "val", "test"):
        np.testing.assert_allclose(s.y_scaler.inverse(getattr(s, split)["y"]), getattr(raw, split)["y"], rtol=1e-5)
    with pytest.raises(ValueError, match=r"standardize_y=True\) is for regression targets; 'iris'"):
        prepare(load_embedded("iris"), standardize_y=True)
