package org.sparkrlhf.grpo.algos;

import ai.djl.ndarray.NDArray;
import org.sparkrlhf.core.algos.Registry;

/**
 * Reduces a per-token loss matrix [B, T] to a scalar over the tokens where {@code mask} [B, T]
 * (0/1, float) is 1, as verl's {@code agg_loss}. Registered by name in {@link #REGISTRY}:
 * {@code token-mean} and {@code seq-mean-token-mean}.
 */
@FunctionalInterface
public interface Aggregation {

    String TOKEN_MEAN = "token-mean";
    String SEQ_MEAN_TOKEN_MEAN = "seq-mean-token-mean";

    /** The scalar loss. */
    NDArray apply(NDArray lossMat, NDArray mask);

    /**
     * {@code Σ_{b,t} m·l / Σ_{b,t} m}: every masked token of the batch weighs the same, so
     * longer completions weigh more (DAPO's token-level loss, Yu et al. 2025; verl's default).
     * 0 for an all-zero mask (verl adds 1e-8 to the denominator; dividing by max(count, 1)
     * is identical for a 0/1 mask with any token and exact).
     */
    static NDArray tokenMean(NDArray lossMat, NDArray mask) {
        return lossMat.mul(mask).sum().div(mask.sum().maximum(1f));
    }

    /**
     * {@code mean_b (Σ_t m·l / Σ_t m)} over the rows with at least one masked token: each
     * sequence weighs the same whatever its length (the original GRPO objective, Shao et al.
     * 2024, eq. 3). Rows with no masked token are left out of the mean, as recent verl does
     * (older verl would divide by zero); 0 when no row has a token.
     */
    static NDArray seqMeanTokenMean(NDArray lossMat, NDArray mask) {
        NDArray rowCount = mask.sum(new int[] {1});
        NDArray rowMean = lossMat.mul(mask).sum(new int[] {1}).div(rowCount.maximum(1f));
        NDArray rowHas = rowCount.gt(0f).toType(mask.getDataType(), false);
        return rowMean.mul(rowHas).sum().div(rowHas.sum().maximum(1f));
    }

    /** The aggregations by name; {@code REGISTRY.register(name, aggregation)} adds another. */
    Registry<Aggregation> REGISTRY = new Registry<Aggregation>("loss aggregation")
            .register(TOKEN_MEAN, Aggregation::tokenMean)
            .register(SEQ_MEAN_TOKEN_MEAN, Aggregation::seqMeanTokenMean);
}
