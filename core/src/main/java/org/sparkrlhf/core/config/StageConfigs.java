package org.sparkrlhf.core.config;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigSyntax;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.stream.Collectors;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.io.HadoopFiles;

/**
 * Loads stage settings. Layers, highest first: {@code --set key=value} overrides, the {@code --conf}
 * file (a local or Hadoop path, HOCON), then the config embedded in the application jar
 * ({@code conf/quickstart.conf}). Each stage's section is then bound to its typed config class, whose
 * field initialisers are the documented defaults; a key that the class does not know is an error
 * naming the key, never silently ignored.
 */
public final class StageConfigs {
  /** The embedded default, so that a bare {@code spark-submit} needs no file on the cluster. */
  public static final String EMBEDDED = "conf/quickstart.conf";

  private static final ObjectMapper MAPPER =
      new ObjectMapper()
          .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
          .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
          .enable(SerializationFeature.INDENT_OUTPUT);

  private StageConfigs() {}

  public static ObjectMapper mapper() {
    return MAPPER;
  }

  /** The layered config: overrides, then the file (if any), then the embedded default. */
  public static Config load(String confFile, List<String> overrides) {
    Config config = embedded();
    if (confFile != null && !confFile.isBlank()) {
      config = parseFile(confFile).withFallback(config);
    }
    if (overrides != null && !overrides.isEmpty()) {
      config = parseOverrides(overrides).withFallback(config);
    }
    try {
      return config.resolve();
    } catch (ConfigException e) {
      throw new UserError("config: " + e.getMessage());
    }
  }

  /** Origin description of a {@code --set} value: how {@link #layered} tells the command line's values apart. */
  private static final String SET_ORIGIN = "--set ";

  /**
   * The config file {@code file} layered over {@code under} (a pipeline's own settings over a shared config), with
   * the command line's {@code --set} values still on top: what a user set by hand wins over every file.
   */
  public static Config layered(String file, Config under) {
    Config set = ConfigFactory.empty();
    for (java.util.Map.Entry<String, com.typesafe.config.ConfigValue> e : under.entrySet()) {
      String origin = e.getValue().origin().description();
      if (origin != null && origin.startsWith(SET_ORIGIN)) set = set.withValue(e.getKey(), e.getValue());
    }
    try {
      return set.withFallback(parseFile(file)).withFallback(under).resolve();
    } catch (ConfigException e) {
      throw new UserError("config file " + file + ": " + e.getMessage());
    }
  }

  static Config embedded() {
    try (InputStream in = StageConfigs.class.getClassLoader().getResourceAsStream(EMBEDDED)) {
      if (in == null) {
        return ConfigFactory.empty();
      }
      return ConfigFactory.parseReader(
          new InputStreamReader(in, StandardCharsets.UTF_8),
          ConfigParseOptions.defaults().setSyntax(ConfigSyntax.CONF).setOriginDescription(EMBEDDED));
    } catch (java.io.IOException e) {
      throw new IllegalStateException("cannot read the embedded " + EMBEDDED, e);
    }
  }

  static Config parseFile(String file) {
    if (!HadoopFiles.exists(file)) {
      throw new UserError("config file not found: " + file);
    }
    try {
      return ConfigFactory.parseReader(
          new StringReader(HadoopFiles.readText(file)),
          ConfigParseOptions.defaults().setSyntax(ConfigSyntax.CONF).setOriginDescription(file));
    } catch (ConfigException e) {
      throw new UserError("config file " + file + ": " + e.getMessage());
    } catch (UncheckedIOException e) {
      throw new UserError("cannot read config file " + file + ": " + e.getCause().getMessage());
    }
  }

  static Config parseOverrides(List<String> overrides) {
    Config result = ConfigFactory.empty();
    for (String kv : overrides) {
      int eq = kv.indexOf('=');
      if (eq <= 0) {
        throw new UserError("--set expects key=value, got '" + kv + "'");
      }
      String key = kv.substring(0, eq).trim();
      String value = kv.substring(eq + 1).trim();
      try {
        // Parse as HOCON so numbers, booleans and lists keep their types; a bare word stays a string.
        Config one = ConfigFactory.parseString(key + " = " + value,
            ConfigParseOptions.defaults().setOriginDescription(SET_ORIGIN + key));
        result = one.withFallback(result);
      } catch (ConfigException e) {
        try {
          result = ConfigFactory.parseString(key + " = " + quote(value),
              ConfigParseOptions.defaults().setOriginDescription(SET_ORIGIN + key)).withFallback(result);
        } catch (ConfigException e2) {
          throw new UserError("--set " + kv + ": " + e2.getMessage());
        }
      }
    }
    return result;
  }

  private static String quote(String value) {
    return "\"" + value.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  /**
   * {@link #bind}, then the first of the bound settings' {@code problems} (a config's own range and name checks) as
   * a one-line user error: what a stage's check does before Spark starts.
   */
  public static <T> T checked(Config config, String path, Class<T> type,
      java.util.function.Function<T, List<String>> problems) {
    T bound = bind(config, path, type);
    List<String> found = problems.apply(bound);
    if (!found.isEmpty()) throw new UserError(found.get(0));
    return bound;
  }

  /**
   * Binds section {@code path} of the config to {@code type}; a missing section gives the defaults.
   * Unknown keys and wrong types are user errors naming {@code path.key}.
   */
  public static <T> T bind(Config config, String path, Class<T> type) {
    String json = "{}";
    if (config.hasPath(path)) {
      json = config.getConfig(path).root().render(ConfigRenderOptions.concise());
    }
    try {
      return MAPPER.readValue(json, type);
    } catch (UnrecognizedPropertyException e) {
      String known =
          e.getKnownPropertyIds() == null
              ? ""
              : e.getKnownPropertyIds().stream().map(Object::toString).sorted().collect(Collectors.joining(", "));
      throw new UserError(
          "unknown config key '" + path + "." + e.getPropertyName() + "' (known keys: " + known + ")");
    } catch (InvalidFormatException e) {
      throw new UserError(
          "config key '" + path + "." + fieldPath(e) + "': cannot use " + e.getValue() + " as " + e.getTargetType().getSimpleName());
    } catch (MismatchedInputException e) {
      throw new UserError("config key '" + path + "." + fieldPath(e) + "': wrong type, expected " + e.getTargetType().getSimpleName());
    } catch (java.io.IOException e) {
      throw new UserError("config section '" + path + "': " + e.getMessage());
    }
  }

  private static String fieldPath(MismatchedInputException e) {
    return e.getPath().stream()
        .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
        .collect(Collectors.joining("."));
  }

  /** The config object as JSON, for reports and checkpoint provenance. */
  public static String toJson(Object config) {
    try {
      return MAPPER.writeValueAsString(config);
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }
}
