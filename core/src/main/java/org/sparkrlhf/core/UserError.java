package org.sparkrlhf.core;

/**
 * A mistake in what the user asked for (a bad flag, an unknown config key, a file whose columns
 * contradict a table). The launcher prints its message as one line and exits non-zero, never a stack
 * trace: the message must say what is wrong and, where it can, how to fix it.
 */
public class UserError extends RuntimeException {
  public UserError(String message) {
    super(message);
  }

  public UserError(String message, Throwable cause) {
    super(message, cause);
  }

  /**
   * The user error behind {@code failure}, if any: a mistake found on an executor (a prompt longer than the
   * model's context, say) reaches the driver wrapped in Spark's job failure, and must still read as one line.
   */
  public static java.util.Optional<UserError> in(Throwable failure) {
    java.util.Set<Throwable> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    for (Throwable t = failure; t != null && seen.add(t); t = t.getCause()) {
      if (t instanceof UserError u) {
        return java.util.Optional.of(u);
      }
    }
    return java.util.Optional.empty();
  }
}
