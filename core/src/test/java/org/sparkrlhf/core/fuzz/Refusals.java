package org.sparkrlhf.core.fuzz;

/** What every fuzz target asks of a refusal: a one-line reason a user can read. */
final class Refusals {
  private Refusals() {}

  static void check(Exception e) {
    String m = e.getMessage();
    if (m == null || m.isBlank()) throw new IllegalStateException("a refusal without a reason", e);
  }
}
