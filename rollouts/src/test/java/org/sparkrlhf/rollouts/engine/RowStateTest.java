package org.sparkrlhf.rollouts.engine;

import org.sparkrlhf.core.batch.TokenSequence;

import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.tokenizer.CharTokenizer;
import org.sparkrlhf.core.tokenizer.TextTokenizer;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Stopping rules on token streams, without a model. */
class RowStateTest {

    static final TextTokenizer TOK = new CharTokenizer();

    static RowState row(int limit, List<String> stop) {
        PromptRef ref = new PromptRef("p", "1+2=?\n", 0);
        return new RowState(ref, TokenSequence.promptIds(TOK, ref.text()), limit, 1, TOK, stop);
    }

    /** Feeds the text's tokens (then eos if asked) until the row finishes; returns the completion. */
    static Completion feed(RowState r, String text, boolean thenEos) {
        int[] ids = TOK.encode(text);
        float lp = -0.5f;
        for (int id : ids) {
            if (r.accept(id, lp)) {
                return r.toCompletion();
            }
        }
        if (thenEos && r.accept(TOK.eosId(), lp)) {
            return r.toCompletion();
        }
        assertFalse(r.finished());
        throw new AssertionError("row did not finish");
    }

    @Test
    void eosFinishesKeepsTheTokenAndLeavesItOutOfTheText() {
        Completion c = feed(row(50, List.of()), "=3\n#### 3\n", true);
        assertEquals(Completion.EOS, c.finishReason());
        assertEquals("=3\n#### 3\n", c.text());
        assertEquals(11, c.length());
        assertEquals(CharTokenizer.EOS, c.tokenIds()[10]);
        assertEquals(11, c.logProbs().length);
        assertEquals(7, c.promptTokens(), "bos + 6 chars");
        assertEquals(-5.5, c.sumLogProb(), 1e-6);
    }

    @Test
    void stopStringFinishesAndStaysInTheText() {
        Completion c = feed(row(50, List.of("####", "zzz")), "=3\n#### 3\n", true);
        assertEquals(Completion.STOP, c.finishReason());
        assertEquals("=3\n####", c.text());
        assertArrayEquals(TOK.encode("=3\n####"), c.tokenIds());
        // a stop string spanning several tokens and containing a newline
        c = feed(row(50, List.of("3\n#")), "=1+2\n=3\n#### 3\n", true);
        assertEquals(Completion.STOP, c.finishReason());
        assertEquals("=1+2\n=3\n#", c.text());
    }

    /** A chat tokenizer's end-of-turn token stops the row like eos (kept, out of the text); other tokens do not. */
    @Test
    void everyStopIdFinishesTheRow() {
        int turnEnd = TOK.encode("#")[0];
        TextTokenizer chat = new TextTokenizer() {
            public int[] encode(String text) { return TOK.encode(text); }
            public String decode(int[] ids) { return TOK.decode(ids); }
            public int vocabSize() { return TOK.vocabSize(); }
            public int padId() { return TOK.padId(); }
            public int bosId() { return TOK.bosId(); }
            public int eosId() { return TOK.eosId(); }
            public int[] stopIds() { return new int[] {TOK.eosId(), turnEnd}; }
            public String toTokenizerJson() { return TOK.toTokenizerJson(); }
            public String name() { return "chat"; }
        };
        PromptRef ref = new PromptRef("p", "1+2=?\n", 0);
        RowState r = new RowState(ref, TokenSequence.promptIds(chat, ref.text()), 50, 1, chat, List.of());
        for (int id : TOK.encode("=3\n")) assertFalse(r.accept(id, -1f));
        assertTrue(r.accept(turnEnd, -1f));
        assertEquals(Completion.EOS, r.finishReason());
        assertEquals(4, r.toCompletion().length());
        assertEquals(turnEnd, r.toCompletion().tokenIds()[3]);
        RowState plain = row(50, List.of());
        assertFalse(plain.accept(turnEnd, -1f), "not a stop id of the built-in tokenizer");
    }

    @Test
    void lengthFinishesAtTheLimit() {
        Completion c = feed(row(4, List.of("####")), "=3\n#### 3\n", true);
        assertEquals(Completion.LENGTH, c.finishReason());
        assertEquals("=3\n#", c.text());
        assertEquals(4, c.length());
    }

    @Test
    void eosAndStopWinOverLengthOnTheLastToken() {
        RowState r = row(3, List.of());
        assertFalse(r.accept(TOK.encode("=")[0], -1f));
        assertFalse(r.accept(TOK.encode("3")[0], -1f));
        assertTrue(r.accept(TOK.eosId(), -1f));
        assertEquals(Completion.EOS, r.finishReason());

        Completion c = feed(row(4, List.of("####")), "####", false);
        assertEquals(Completion.STOP, c.finishReason());
    }

    @Test
    void zeroLimitIsFinishedFromTheStartAndFinishedRowsRejectTokens() {
        RowState r = row(0, List.of());
        assertTrue(r.finished());
        assertEquals(Completion.LENGTH, r.finishReason());
        assertEquals(0, r.toCompletion().length());
        assertThrows(IllegalStateException.class, () -> r.accept(5, -1f));
        assertThrows(IllegalStateException.class, () -> row(5, List.of()).toCompletion());
    }
}
