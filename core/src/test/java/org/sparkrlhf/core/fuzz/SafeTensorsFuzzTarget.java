package org.sparkrlhf.core.fuzz;

import org.sparkrlhf.core.model.SafeTensors;

/** Jazzer target: any bytes as a safetensors file give tensors or an IllegalArgumentException with a reason. */
public final class SafeTensorsFuzzTarget {
  private SafeTensorsFuzzTarget() {}

  public static void fuzzerTestOneInput(byte[] file) {
    try {
      SafeTensors.read(file);
    } catch (IllegalArgumentException e) {
      Refusals.check(e);
    }
  }
}
