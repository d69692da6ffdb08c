"""Metric learning on fixed features: KISSME and XQDA (used by the MGCAM study).

Both learn a Mahalanobis-type distance d(x, y) = (x - y)^T M (x - y) from
labelled training features. They compare the covariance of differences
between images of the same identity (intra) with that between images of
different identities (extra). Over *all* pairs these covariances have a closed
form through per-identity scatter matrices, so no pairs are sampled:

    sum over same-identity pairs i<j of (x_i - x_j)(x_i - x_j)^T = sum_c n_c S_c
    sum over all pairs i<j                                     = N S

where S_c is the scatter of identity c around its mean and S the total scatter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def _float64(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


def _pair_covariances(x: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Covariances of x_i - x_j over same-identity and different-identity pairs."""
    n = len(x)
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if len(classes) < 2:
        raise ValueError("metric learning needs training features of at least two identities")
    num_intra = int((counts * (counts - 1) // 2).sum())
    if num_intra == 0:
        raise ValueError("metric learning needs at least one identity with two or more training images")
    means = np.zeros((len(classes), x.shape[1]))
    np.add.at(means, inverse, x)
    means /= counts[:, None]
    centred = x - means[inverse]
    intra_sum = (centred * counts[inverse, None]).T @ centred
    total = x - x.mean(0)
    all_sum = n * (total.T @ total)
    num_extra = n * (n - 1) // 2 - num_intra
    return intra_sum / num_intra, (all_sum - intra_sum) / num_extra


def _check_training(features, labels) -> tuple[np.ndarray, np.ndarray]:
    x = _float64(features)
    y = np.asarray(labels).reshape(-1)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"need (N, D) features and N labels, got {x.shape} and {y.shape}")
    if not np.isfinite(x).all():
        raise ValueError("training features contain NaN or infinite values")
    return x, y


@dataclass
class LearnedMetric:
    """d(x, y) = (P^T (x - y))^T M (P^T (x - y)), with P a (D, r) projection."""

    projection: np.ndarray  # (D, r)
    matrix: np.ndarray  # (r, r)
    mean: np.ndarray  # (D,) subtracted before projecting

    def distance(self, query, gallery) -> np.ndarray:
        """(Q, G) learned distances between query and gallery features."""
        q = (_float64(query) - self.mean) @ self.projection
        g = (_float64(gallery) - self.mean) @ self.projection
        qm, gm = q @ self.matrix, g @ self.matrix
        d = (qm * q).sum(1)[:, None] + (gm * g).sum(1)[None, :] - 2 * qm @ g.T
        return d.astype(np.float32)

    def embed(self, features) -> np.ndarray:
        """(N, r) features whose squared Euclidean distances are the learned distances.

        With M = L L^T, d(x, y) = |L^T P^T (x - y)|^2, so Euclidean tools (k-reciprocal
        re-ranking) can use the learned metric. Negative eigenvalues of M (XQDA's M
        need not be positive semi-definite) are clipped to 0 here.
        """
        w, v = np.linalg.eigh((self.matrix + self.matrix.T) / 2)
        root = v * np.sqrt(np.clip(w, 0, None))
        return ((_float64(features) - self.mean) @ self.projection @ root).astype(np.float32)


def _pca(x: np.ndarray, dim: int | None) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(0)
    if dim is None or dim >= x.shape[1]:
        return mean, np.eye(x.shape[1])
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    return mean, vt[:dim].T


def _psd(m: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((m + m.T) / 2)
    return (v * np.clip(w, 0, None)) @ v.T


def fit_kissme(features, labels, pca_dim: int | None = 64, reg: float = 1e-6) -> LearnedMetric:
    """KISSME (Koestinger et al., CVPR 2012): M = inv(C_intra) - inv(C_extra), made PSD.

    Features are first reduced by PCA to ``pca_dim`` dimensions (the paper
    and later re-ID work use PCA; ``None`` keeps all dimensions).
    """
    x, y = _check_training(features, labels)
    mean, proj = _pca(x, pca_dim)
    z = (x - mean) @ proj
    c_in, c_ex = _pair_covariances(z, y)
    eye = reg * np.eye(z.shape[1])
    m = np.linalg.inv(c_in + eye) - np.linalg.inv(c_ex + eye)
    return LearnedMetric(proj, _psd(m), mean)


def fit_xqda(features, labels, dim: int | None = None, reg: float = 1e-3) -> LearnedMetric:
    """XQDA (Liao et al., CVPR 2015): a subspace W and a KISSME metric inside it.

    W holds the leading generalised eigenvectors of (C_extra, C_intra + reg I),
    i.e. the directions where different identities differ much more than
    images of one identity. With ``dim=None`` the directions whose
    eigenvalue exceeds 1 are kept, as in the paper (at least one).
    """
    x, y = _check_training(features, labels)
    mean = x.mean(0)
    z = x - mean
    c_in, c_ex = _pair_covariances(z, y)
    c_in = c_in + reg * np.eye(z.shape[1])
    # Generalised symmetric eigenproblem through the Cholesky factor of C_intra.
    chol = np.linalg.cholesky(c_in)
    inv_chol = np.linalg.inv(chol)
    evals, evecs = np.linalg.eigh(inv_chol @ c_ex @ inv_chol.T)
    order = np.argsort(evals)[::-1]
    evals, w = evals[order], (inv_chol.T @ evecs)[:, order]
    r = dim if dim is not None else max(1, int((evals > 1).sum()))
    w = w[:, :r]
    m = np.linalg.inv(w.T @ c_in @ w) - np.linalg.inv(w.T @ c_ex @ w)
    return LearnedMetric(w, m, mean)
