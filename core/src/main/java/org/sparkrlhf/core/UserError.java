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
}
