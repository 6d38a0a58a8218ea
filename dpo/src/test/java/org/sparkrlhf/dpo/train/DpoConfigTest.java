package org.sparkrlhf.dpo.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The label-smoothing and β ranges, checked in one place for the stage, the trainer and the losses. */
class DpoConfigTest {

  static DpoConfig config(String lossType, double labelSmoothing, double beta) {
    DpoConfig c = new DpoConfig();
    c.lossType = lossType;
    c.labelSmoothing = labelSmoothing;
    c.beta = beta;
    return c;
  }

  static String first(DpoConfig c) {
    List<String> p = c.problems();
    return p.isEmpty() ? null : p.get(0);
  }

  @Test
  void theDefaultsAndTheUsualSettingsAreFine() {
    assertEquals(List.of(), new DpoConfig().problems());
    assertEquals(List.of(), config("sigmoid", 0.2, 0.1).problems());
    assertEquals(List.of(), config("cdpo", 0.1, 0.1).problems());
    assertEquals(List.of(), config("ipo", 0, 0.5).problems());
  }

  @Test
  void labelSmoothing() {
    assertEquals("dpo.loss_type=cdpo needs dpo.label_smoothing in (0, 0.5)", first(config("cdpo", 0, 0.1)));
    assertEquals("dpo.label_smoothing must be in [0, 0.5)", first(config("sigmoid", 0.5, 0.1)));
    assertEquals("dpo.label_smoothing must be in [0, 0.5)", first(config("sigmoid", -0.1, 0.1)));
    assertEquals("dpo.loss_type=ipo takes no label_smoothing", first(config("ipo", 0.1, 0.1)));
  }

  @Test
  void beta() {
    assertEquals("dpo.beta must be positive", first(config("sigmoid", 0, 0)));
    assertEquals("dpo.beta must be positive", first(config("ipo", 0, -1)));
  }

  @Test
  void anUnknownLossNamesTheKnownOnes() {
    assertEquals("unknown DPO loss 'kto'; known: cdpo, ipo, sigmoid", first(config("kto", 0, 0.1)));
    assertEquals("unknown DPO loss 'null'; known: cdpo, ipo, sigmoid", first(config(null, 0, 0.1)));
  }

  @Test
  void theTrainerRefusesWhatTheStageWould() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new DpoTrainer(config("cdpo", 0, 0)));
    assertEquals("dpo.loss_type=cdpo needs dpo.label_smoothing in (0, 0.5); dpo.beta must be positive",
        e.getMessage());
    assertTrue(new DpoTrainer(config("cdpo", 0.1, 0.1)).plannedSteps(64) > 0);
  }
}
