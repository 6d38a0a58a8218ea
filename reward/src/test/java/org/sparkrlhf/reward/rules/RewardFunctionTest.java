package org.sparkrlhf.reward.rules;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.reward.rules.RewardSpec.RuleSpec;

class RewardFunctionTest {

    static RewardSpec spec() {
        return RewardSpec.of(
                new RuleSpec("correct_answer", 1.0),
                new RuleSpec("format", 0.1),
                new RuleSpec("step_validity", 0.5),
                new RuleSpec("length_limit", 1.0, Map.of("max_tokens", 10)),
                new RuleSpec("repetition", 0.2));
    }

    @Test
    void weightedTotalByHand() {
        RewardFunction f = RewardFunction.of(spec());
        // REPEATED with 12 tokens: correct 1, format 1, step validity 1/4, length -(12-10)/10 = -0.2,
        // repetition -2/4. Total = 1*1 + 0.1*1 + 0.5*0.25 + 1*(-0.2) + 0.2*(-0.5) = 0.925.
        RewardResult r = f.apply(new RewardInput(RewardRulesTest.PROMPT, RewardRulesTest.REPEATED, null, 12, "stop"));
        assertEquals(1.0 + 0.1 + 0.125 - 0.2 - 0.1, r.total(), 1e-12);
        assertEquals(List.of("correct_answer", "format", "step_validity", "length_limit", "repetition"),
                List.copyOf(r.parts().keySet()));
        assertEquals(0.25, r.parts().get("step_validity"), 1e-12);
        assertEquals(-0.2, r.parts().get("length_limit"), 1e-12);
        // RIGHT in 8 tokens: 1 + 0.1 + 0.5 + 0 + 0 = 1.6.
        assertEquals(1.6, f.apply(new RewardInput(RewardRulesTest.PROMPT, RewardRulesTest.RIGHT, null, 8, "stop")).total(),
                1e-12);
    }

    @Test
    void defaultSpecIsCorrectAnswer() {
        RewardFunction f = RewardFunction.of(new RewardSpec());
        assertEquals(List.of("correct_answer"), f.ruleNames());
        assertEquals(1.0, f.apply(new RewardInput(RewardRulesTest.PROMPT, RewardRulesTest.RIGHT, null, 8, "stop")).total());
    }

    @Test
    void badSpecsFailWhenBuilt() {
        assertThrows(IllegalArgumentException.class, () -> RewardFunction.of(RewardSpec.of(new RuleSpec("nope", 1))));
        assertThrows(IllegalArgumentException.class,
                () -> RewardFunction.of(RewardSpec.of(new RuleSpec("format", 1), new RuleSpec("format", 2))));
        assertThrows(IllegalArgumentException.class,
                () -> RewardFunction.of(RewardSpec.of(new RuleSpec("format", Double.NaN))));
        assertThrows(IllegalArgumentException.class, () -> RewardFunction.of(RewardSpec.of()));
    }

    @Test
    void survivesJavaSerialization() throws Exception {
        RewardFunction f = RewardFunction.of(spec());
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(f);
        }
        RewardFunction back;
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            back = (RewardFunction) in.readObject();
        }
        RewardInput x = new RewardInput(RewardRulesTest.PROMPT, RewardRulesTest.REPEATED, null, 12, "stop");
        assertEquals(f.apply(x), back.apply(x));
    }
}
