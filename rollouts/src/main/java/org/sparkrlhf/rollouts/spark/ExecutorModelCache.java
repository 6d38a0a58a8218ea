package org.sparkrlhf.rollouts.spark;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import org.sparkrlhf.core.model.HfCheckpoint;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.HfTokenizer;
import org.sparkrlhf.core.tokenizer.TextTokenizer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The models loaded in this JVM (an executor, or the driver in local mode), shared by every task that runs here.
 *
 * <p>{@link #acquire} turns a {@link ModelBroadcast} into a loaded model, loading each (model key, version,
 * broadcast) <em>once</em> per JVM however many tasks ask for it at the same time: the first caller decodes the
 * checkpoint while the others wait for it, and later tasks and later jobs find it loaded. Each acquisition must be
 * paired with {@link LoadedModel#release()} (or close); the cache counts active users.
 *
 * <p><b>Eviction.</b> A key holds one current model. Acquiring version v of a key supersedes that key's entries
 * with a lower version (and any other publication of the same version): a superseded entry's NDArrays are freed
 * as soon as it has no users — at once if it is idle, else when its last task releases it. Acquiring an older
 * version than the resident one still works (a straggler task of an earlier job), but that model is superseded
 * from the start and freed on release. The current version of each key stays loaded while idle, which is what
 * makes the next job on the same version free; {@link #evictIdle()} drops idle models on demand.
 *
 * <p><b>Memory.</b> Models live in one long-lived base {@link NDManager} owned by this class (each model in its own
 * child, closed on eviction). Plan executor memory for one loaded model per key plus the broadcast blob, which
 * Spark's block manager keeps until the driver unpersists it.
 *
 * <p>Counters ({@link #loadCount}, {@link #closeCount}) exist for tests and for reports.
 */
public final class ExecutorModelCache {

    private static final Object LOCK = new Object();
    /** Entries by identity; guarded by LOCK. */
    private static final Map<Id, Entry> ENTRIES = new HashMap<>();
    private static final Map<Version, AtomicLong> LOADS = new ConcurrentHashMap<>();
    private static final Map<Version, AtomicLong> CLOSES = new ConcurrentHashMap<>();
    private static volatile NDManager manager;

    private ExecutorModelCache() {
    }

    /** A model's identity in the cache: two publications of one (key, version) are distinct broadcasts. */
    private record Id(String modelKey, long version, long broadcastId) {
    }

    /** Counters are kept per (key, version). */
    private record Version(String modelKey, long version) {
    }

    private record Loaded(LlamaModel model, TextTokenizer tokenizer, Map<String, Object> provenance) {
    }

    private static final class Entry {
        final Id id;
        final CompletableFuture<Loaded> loaded = new CompletableFuture<>();
        int users;            // guarded by LOCK
        boolean superseded;   // guarded by LOCK
        boolean closed;       // guarded by LOCK

        Entry(Id id) {
            this.id = id;
        }
    }

    // ------------------------------------------------------------------------------------- acquire

    /**
     * The model of {@code b}, loaded on first use in this JVM; blocks while another task loads it. The caller must
     * {@link LoadedModel#release()} it when done (typically at task completion).
     *
     * @throws IllegalStateException wrapping the load failure (e.g. a corrupt blob); a later call retries
     */
    public static LoadedModel acquire(ModelBroadcast b) {
        Id id = new Id(b.modelKey(), b.version(), b.broadcastId());
        Entry entry;
        boolean loader;
        List<Entry> toClose = new ArrayList<>();
        synchronized (LOCK) {
            entry = ENTRIES.get(id);
            loader = entry == null;
            if (loader) {
                entry = new Entry(id);
                ENTRIES.put(id, entry);
                supersedeOthers(entry, toClose);
            }
            entry.users++;
        }
        closeAll(toClose);
        if (loader) {
            load(entry, b);
        }
        try {
            Loaded l = entry.loaded.join();
            return new LoadedModel(entry, l);
        } catch (CompletionException e) {
            release(entry);
            throw new IllegalStateException("cannot load model " + b, e.getCause());
        }
    }

    /**
     * Marks the entries of the same key that {@code fresh} replaces (lower versions, other publications of its
     * version) as superseded, collecting the idle ones to close; or marks {@code fresh} itself superseded when a
     * newer version is already resident. Called under LOCK.
     */
    private static void supersedeOthers(Entry fresh, List<Entry> toClose) {
        for (Entry e : new ArrayList<>(ENTRIES.values())) {
            if (e == fresh || !e.id.modelKey().equals(fresh.id.modelKey())) {
                continue;
            }
            if (e.id.version() > fresh.id.version()) {
                fresh.superseded = true;
            } else {
                e.superseded = true;
                if (e.users == 0) {
                    detach(e, toClose);
                }
            }
        }
    }

    private static void load(Entry entry, ModelBroadcast b) {
        try {
            long t0 = System.nanoTime();
            byte[] blob = b.blob();
            HfCheckpoint ck = HfCheckpoint.fromBytes(blob, manager());
            TextTokenizer tok = ck.tokenizerJson() == null ? null : HfTokenizer.fromJson(ck.tokenizerJson());
            LOADS.computeIfAbsent(new Version(entry.id.modelKey(), entry.id.version()), k -> new AtomicLong())
                    .incrementAndGet();
            b.recordLoad(System.nanoTime() - t0);
            entry.loaded.complete(new Loaded(ck.model(), tok, ck.provenance()));
        } catch (Throwable t) {
            // Forget the failed entry so the next acquire retries; waiters see the failure.
            synchronized (LOCK) {
                ENTRIES.remove(entry.id, entry);
                entry.closed = true;
            }
            entry.loaded.completeExceptionally(t);
        }
    }

    // ------------------------------------------------------------------------------------- release

    private static void release(Entry entry) {
        List<Entry> toClose = new ArrayList<>();
        synchronized (LOCK) {
            entry.users--;
            if (entry.users < 0) {
                throw new IllegalStateException("released more often than acquired: " + entry.id);
            }
            if (entry.users == 0 && entry.superseded) {
                detach(entry, toClose);
            }
        }
        closeAll(toClose);
    }

    /** Removes an idle entry from the cache (under LOCK); the caller closes it outside the lock. */
    private static void detach(Entry e, List<Entry> toClose) {
        ENTRIES.remove(e.id, e);
        if (!e.closed) {
            e.closed = true;
            toClose.add(e);
        }
    }

    private static void closeAll(List<Entry> entries) {
        for (Entry e : entries) {
            // Only loaded entries get here with users == 0 (the loader itself is a user until it releases).
            Loaded l = e.loaded.getNow(null);
            if (l != null) {
                l.model().close();
                if (l.tokenizer() instanceof AutoCloseable c) {
                    try {
                        c.close();
                    } catch (Exception ignored) {
                        // a native tokenizer that fails to free is not worth failing a task for
                    }
                }
                CLOSES.computeIfAbsent(new Version(e.id.modelKey(), e.id.version()), k -> new AtomicLong())
                        .incrementAndGet();
            }
        }
    }

    /** Frees every model that no task is using (the current versions included). Returns how many were freed. */
    public static int evictIdle() {
        List<Entry> toClose = new ArrayList<>();
        synchronized (LOCK) {
            for (Entry e : new ArrayList<>(ENTRIES.values())) {
                if (e.users == 0 && e.loaded.isDone()) {
                    detach(e, toClose);
                }
            }
        }
        closeAll(toClose);
        return toClose.size();
    }

    private static NDManager manager() {
        NDManager m = manager;
        if (m == null) {
            synchronized (LOCK) {
                m = manager;
                if (m == null) {
                    // Pin PyTorch: the tokenizers jar registers a second engine.
                    m = Engine.getEngine("PyTorch").newBaseManager();
                    manager = m;
                }
            }
        }
        return m;
    }

    // ------------------------------------------------------------------------------------ counters

    /** How many times (key, version) was loaded in this JVM. */
    public static long loadCount(String modelKey, long version) {
        AtomicLong n = LOADS.get(new Version(modelKey, version));
        return n == null ? 0 : n.get();
    }

    /** How many times a loaded (key, version) was freed in this JVM. */
    public static long closeCount(String modelKey, long version) {
        AtomicLong n = CLOSES.get(new Version(modelKey, version));
        return n == null ? 0 : n.get();
    }

    /** Versions of {@code modelKey} currently in the cache (loaded or loading), ascending. */
    public static List<Long> residentVersions(String modelKey) {
        synchronized (LOCK) {
            TreeSet<Long> v = new TreeSet<>();
            for (Id id : ENTRIES.keySet()) {
                if (id.modelKey().equals(modelKey)) {
                    v.add(id.version());
                }
            }
            return new ArrayList<>(v);
        }
    }

    /** Tasks currently holding (key, version). */
    public static int activeUsers(String modelKey, long version) {
        synchronized (LOCK) {
            int n = 0;
            for (Entry e : ENTRIES.values()) {
                if (e.id.modelKey().equals(modelKey) && e.id.version() == version) {
                    n += e.users;
                }
            }
            return n;
        }
    }

    // --------------------------------------------------------------------------------- the handle

    /**
     * One task's hold on a loaded model. The model, tokenizer and provenance are valid until {@link #release()};
     * the model may be used from several threads at once (its forward calls only read the weights).
     * Releasing twice is harmless.
     */
    public static final class LoadedModel implements AutoCloseable {
        private final Entry entry;
        private final Loaded loaded;
        private final AtomicBoolean released = new AtomicBoolean();

        private LoadedModel(Entry entry, Loaded loaded) {
            this.entry = entry;
            this.loaded = loaded;
        }

        public LlamaModel model() {
            return loaded.model();
        }

        /** The checkpoint's tokenizer (the pure-Java CharTokenizer for the built-in vocabulary). */
        public TextTokenizer tokenizer() {
            if (loaded.tokenizer() == null) {
                throw new IllegalStateException("checkpoint " + entry.id.modelKey() + " v" + entry.id.version()
                        + " has no tokenizer.json");
            }
            return loaded.tokenizer();
        }

        public Map<String, Object> provenance() {
            return loaded.provenance();
        }

        public String modelKey() {
            return entry.id.modelKey();
        }

        public long version() {
            return entry.id.version();
        }

        public void release() {
            if (released.compareAndSet(false, true)) {
                ExecutorModelCache.release(entry);
            }
        }

        @Override
        public void close() {
            release();
        }
    }
}
