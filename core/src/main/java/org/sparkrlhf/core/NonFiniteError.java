package org.sparkrlhf.core;

/**
 * Training produced NaN or infinity where a number was due: more non-finite optimizer steps than
 * {@code max_skipped_steps} allowed, or weights that are not finite at a checkpoint. It is a {@link UserError}
 * because its cause is almost always a setting (a learning rate too high, clipping turned off), so the launcher
 * prints one line. The stage that knows its checkpoints names the last good one with {@link #after(String)};
 * until then the message says "none".
 */
public class NonFiniteError extends UserError {
  private final String what;
  private final String hint;

  /**
   * @param what what was not finite and where, e.g. "step 37: loss NaN, gradient norm NaN"
   * @param hint what to change, or null
   */
  public NonFiniteError(String what, String hint) {
    this(what, hint, null);
  }

  private NonFiniteError(String what, String hint, String lastGoodCheckpoint) {
    super(what + "; last good checkpoint: " + (lastGoodCheckpoint == null ? "none" : lastGoodCheckpoint)
        + (hint == null ? "" : " (" + hint + ")"));
    this.what = what;
    this.hint = hint;
  }

  /** The same error naming {@code lastGoodCheckpoint} (null: none) as the last good checkpoint. */
  public NonFiniteError after(String lastGoodCheckpoint) {
    NonFiniteError e = new NonFiniteError(what, hint, lastGoodCheckpoint);
    e.setStackTrace(getStackTrace());
    return e;
  }
}
