package org.sparkrlhf.core.run;

import java.util.function.LongSupplier;

/**
 * Where a long stage is: the rate since it (re)started and the time left at that rate, appended to each progress
 * line ({@code 3.2 steps/s, 4:05 left}). A resumed run counts from the step it resumed at, so its rate is its own.
 */
public final class Progress {
  private final long total;
  private final String unit;
  private final LongSupplier nanos;
  private long firstStep = -1;
  private long startNanos;

  /** Progress toward {@code total} {@code unit}s (e.g. "steps", "iters"), timed by the system clock. */
  public Progress(long total, String unit) {
    this(total, unit, System::nanoTime);
  }

  Progress(long total, String unit, LongSupplier nanos) {
    this.total = total;
    this.unit = unit;
    this.nanos = nanos;
  }

  /** Marks {@code step} as the starting point (the step before the first one this run takes). */
  public Progress startAt(long step) {
    firstStep = step;
    startNanos = nanos.getAsLong();
    return this;
  }

  /** "R unit/s, M:SS left" after {@code step} is done (or "" before the rate is known). */
  public String at(long step) {
    if (firstStep < 0) startAt(0);
    double seconds = (nanos.getAsLong() - startNanos) / 1e9;
    long done = step - firstStep;
    if (done <= 0 || seconds <= 0) return "";
    double rate = done / seconds;
    long left = Math.round(Math.max(0, total - step) / rate);
    return String.format("%s %s/s, %s left", rate >= 10 ? String.format("%.0f", rate) : String.format("%.2f", rate),
        unit, clock(left));
  }

  /** Seconds as H:MM:SS, or M:SS under an hour. */
  static String clock(long seconds) {
    long h = seconds / 3600;
    long m = seconds % 3600 / 60;
    long s = seconds % 60;
    return h > 0 ? String.format("%d:%02d:%02d", h, m, s) : String.format("%d:%02d", m, s);
  }
}
