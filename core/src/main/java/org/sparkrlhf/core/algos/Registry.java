package org.sparkrlhf.core.algos;

import java.util.Collections;
import java.util.NavigableMap;
import java.util.Set;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * Implementations of one kind (advantage estimators, policy losses, KL estimators, ...) by the name config selects
 * them with, as verl's {@code register_adv_est} / {@code register_policy_loss}. Open: code outside this project
 * adds its own with {@link #register} and then selects it by that name from config like a built-in one.
 *
 * @param <T> the kind's interface
 */
public final class Registry<T> {
  private final String kind;
  private final NavigableMap<String, T> byName = new ConcurrentSkipListMap<>();

  /** @param kind what the registered things are, for the messages ({@code "advantage estimator"}) */
  public Registry(String kind) {
    this.kind = kind;
  }

  /**
   * Makes {@code impl} selectable as {@code name}.
   *
   * @throws IllegalArgumentException when the name is blank or already taken (a second registration under a known
   *     name would silently change what existing configs run)
   */
  public Registry<T> register(String name, T impl) {
    if (name == null || name.isBlank()) throw new IllegalArgumentException(kind + " needs a name");
    if (impl == null) throw new IllegalArgumentException(kind + " '" + name + "' is null");
    if (byName.putIfAbsent(name, impl) != null) {
      throw new IllegalArgumentException(kind + " '" + name + "' is already registered");
    }
    return this;
  }

  /** @throws IllegalArgumentException for an unknown name, in one line listing the known ones */
  public T byName(String name) {
    T impl = name == null ? null : byName.get(name);
    if (impl == null) {
      throw new IllegalArgumentException("unknown " + kind + " '" + name + "'; known: " + String.join(", ", names()));
    }
    return impl;
  }

  /** The registered names, sorted. */
  public Set<String> names() {
    return Collections.unmodifiableSet(byName.navigableKeySet());
  }
}
