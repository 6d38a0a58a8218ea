package org.sparkrlhf.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.apache.spark.api.java.function.ForeachFunction;
import org.junit.jupiter.api.Test;

/** A user mistake found on an executor is still found on the driver, inside Spark's job failure. */
class UserErrorTest {
  @Test
  void isFoundInsideASparkJobFailure() {
    ForeachFunction<Long> tooLong = id -> {
      throw new UserError("prompt " + id + " has 200 tokens, more than the model's context of 128");
    };
    Exception failure = assertThrows(Exception.class,
        () -> TestSpark.session().range(1).as(org.apache.spark.sql.Encoders.LONG()).foreach(tooLong));
    assertTrue(!(failure instanceof UserError), "Spark wraps it: " + failure.getClass());
    assertEquals("prompt 0 has 200 tokens, more than the model's context of 128",
        UserError.in(failure).orElseThrow().getMessage());
    assertTrue(UserError.in(new IllegalStateException(new RuntimeException("no user error"))).isEmpty());
  }
}
