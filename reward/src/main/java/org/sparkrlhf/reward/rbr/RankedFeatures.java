package org.sparkrlhf.reward.rbr;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.expr;
import static org.apache.spark.sql.functions.lit;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.ml.classification.LogisticRegression;
import org.apache.spark.ml.classification.LogisticRegressionModel;
import org.apache.spark.ml.feature.VectorAssembler;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.functions;

/**
 * The fit of a rule-based reward, as in RBR (Mu et al. 2024, "Rule Based Rewards for Language Model Safety"): each
 * completion has a vector of features (every rule's score, a reward model's), the total reward is w·x, and w is
 * fitted so that the total orders the completions of a prompt as a ranking demands.
 *
 * <ol>
 *   <li>{@link #ranked}: the ranking is a list of Spark SQL predicates over the feature columns, best first; a
 *       completion's rank is the index of the first it satisfies (e.g. {@code correct_answer = 1 AND step_validity =
 *       1}, then {@code correct_answer = 1}, then {@code true}); one that satisfies none has no rank and takes part in
 *       no pair.</li>
 *   <li>{@link #pairs}: every two completions of the same prompt whose ranks differ give the difference of their
 *       features, better minus worse, labelled 1, and its mirror labelled 0, so the fit has no side to lean on.</li>
 *   <li>{@link #fit}: Spark MLlib's logistic regression on those differences without an intercept (the model
 *       P(better ≻ worse) = σ(w·(x_better − x_worse)), Bradley-Terry on the total reward), with an L2 penalty that
 *       keeps w finite when the ranking can be met exactly.</li>
 *   <li>{@link #orderAccuracy}: the share of pairs whose better completion gets the strictly higher total.</li>
 * </ol>
 */
public final class RankedFeatures {
  /** The rank column {@link #ranked} adds. */
  public static final String RANK = "rank";

  private RankedFeatures() {}

  /** {@code completions} with {@value #RANK}: the index of the first of {@code ranking} each row satisfies, else null. */
  public static Dataset<Row> ranked(Dataset<Row> completions, List<String> ranking) {
    if (ranking.isEmpty()) throw new IllegalArgumentException("a ranking needs at least one class");
    Column rank = lit(null).cast("int");
    for (int i = ranking.size() - 1; i >= 0; i--) {
      rank = functions.when(expr(ranking.get(i)), lit(i)).otherwise(rank);
    }
    return completions.withColumn(RANK, rank);
  }

  /**
   * The pairs of ranked completions of the same {@code promptCol} with different ranks: {@code features} (a vector
   * column of x_better − x_worse, and its mirror) and {@code label} (1, and 0 for the mirror).
   */
  public static Dataset<Row> pairs(Dataset<Row> ranked, String promptCol, List<String> features) {
    Dataset<Row> a = ranked.filter(col(RANK).isNotNull()).alias("a");
    Dataset<Row> b = ranked.filter(col(RANK).isNotNull()).alias("b");
    Dataset<Row> joined = a.join(b, col("a." + promptCol).equalTo(col("b." + promptCol))
        .and(col("a." + RANK).lt(col("b." + RANK))));
    List<Column> forward = new ArrayList<>();
    List<Column> mirror = new ArrayList<>();
    for (String f : features) {
      forward.add(col("a.`" + f + "`").minus(col("b.`" + f + "`")).cast("double").as(f));
      mirror.add(col("b.`" + f + "`").minus(col("a.`" + f + "`")).cast("double").as(f));
    }
    forward.add(lit(1.0).as("label"));
    mirror.add(lit(0.0).as("label"));
    Dataset<Row> both = joined.select(forward.toArray(new Column[0]))
        .unionByName(joined.select(mirror.toArray(new Column[0])));
    return new VectorAssembler().setInputCols(features.toArray(new String[0])).setOutputCol("features")
        .transform(both).select("features", "label");
  }

  /** The weights of {@link #pairs} by L2-penalised logistic regression without intercept, in feature order. */
  public static double[] fit(Dataset<Row> pairs, double regParam) {
    LogisticRegressionModel m = new LogisticRegression().setFitIntercept(false).setStandardization(false)
        .setRegParam(regParam).setElasticNetParam(0.0).setMaxIter(200).setTol(1e-9).fit(pairs);
    return m.coefficients().toArray();
  }

  /** The share of {@link #pairs}' better-minus-worse rows (label 1) with w·(x_better − x_worse) &gt; 0; NaN for none. */
  public static double orderAccuracy(Dataset<Row> pairs, double[] weights) {
    List<Row> rows = pairs.filter(col("label").equalTo(1.0)).select("features").collectAsList();
    if (rows.isEmpty()) return Double.NaN;
    int right = 0;
    for (Row r : rows) {
      double[] d = ((org.apache.spark.ml.linalg.Vector) r.get(0)).toArray();
      double s = 0;
      for (int i = 0; i < d.length; i++) s += weights[i] * d[i];
      if (s > 0) right++;
    }
    return (double) right / rows.size();
  }
}
