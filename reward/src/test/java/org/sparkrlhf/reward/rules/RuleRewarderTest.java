package org.sparkrlhf.reward.rules;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.reward.Rewarder;
import org.sparkrlhf.rollouts.engine.Completion;

class RuleRewarderTest {

    static Completion completion(String text, String finishReason) {
        int[] ids = new int[text.length() + 1];
        return new Completion("p", 0, 9, ids, text, new float[ids.length], finishReason);
    }

    @Test
    void outcomeFromTheRulesAndStepsFromTheCheckersLineValidity() {
        Rewarder r = RuleRewarder.of(RewardSpec.of(new RewardSpec.RuleSpec(RewardRules.CORRECT_ANSWER, 1.0),
                new RewardSpec.RuleSpec(RewardRules.FORMAT, 0.1),
                new RewardSpec.RuleSpec(RewardRules.LENGTH_LIMIT, 1.0, Map.of(RewardRules.MAX_TOKENS, 64))));
        // 2+3*4 = 14: the first step is right, the second wrong (15), the answer line repeats 15 (valid against the
        // line before it, but the outcome is wrong); well formed; 20 tokens with the eos, under the limit.
        Completion wrong = completion("=2+12\n=15\n#### 15\n", Completion.EOS);
        RewardResult got = r.score("2+3*4=?\n", "14", wrong);
        assertEquals(0.1, got.total(), 1e-12);
        assertEquals(Map.of(RewardRules.CORRECT_ANSWER, 0.0, RewardRules.FORMAT, 1.0, RewardRules.LENGTH_LIMIT, 0.0),
                got.parts());
        assertArrayEquals(new double[] {1, 0, 1}, r.stepRewards("2+3*4=?\n", "14", wrong));
        // Cut off by the budget: the engine's "length" is the rules' "length", a -1 from length_limit.
        Completion cut = completion("=2+12\n=14\n", Completion.LENGTH);
        assertEquals(-1.0, r.score("2+3*4=?\n", "14", cut).parts().get(RewardRules.LENGTH_LIMIT));
        assertArrayEquals(new double[] {1, 1}, r.stepRewards("2+3*4=?\n", "14", cut));
    }

    @Test
    void aRewarderWithoutStepRewardsSaysSoWithNull() {
        Rewarder outcomeOnly = (prompt, answer, c) -> new RewardResult(1, Map.of("one", 1.0));
        assertEquals(null, outcomeOnly.stepRewards("1+1=?\n", "2", completion("=2\n", Completion.EOS)));
    }

    @Test
    void aLearnedRewardEntryIsLeftToTheModelAndTheGoldRuleKept() {
        RewardSpec.RuleSpec model = new RewardSpec.RuleSpec(RewardSpec.MODEL, 1.0);
        model.checkpoint = "ckpt";
        RewardSpec spec = RewardSpec.of(model, new RewardSpec.RuleSpec(RewardRules.FORMAT, 0.1));
        assertEquals("ckpt", spec.learned().checkpoint);
        // The rules score format and the gold correct_answer with weight 0; the model's share is the source's to add.
        RewardResult got = RuleRewarder.of(spec).score("2+3*4=?\n", "14", completion("=2+12\n=14\n#### 14\n",
                Completion.EOS));
        assertEquals(0.1, got.total(), 1e-12);
        assertEquals(Map.of(RewardRules.FORMAT, 1.0, RewardRules.CORRECT_ANSWER, 1.0), got.parts());
        // Listing correct_answer keeps its weight; no model entry leaves the spec as it is.
        RewardSpec withGold = RewardSpec.of(model, new RewardSpec.RuleSpec(RewardRules.CORRECT_ANSWER, 0.5));
        assertEquals(0.5, RuleRewarder.of(withGold).score("1+1=?\n", "2", completion("#### 2\n", Completion.EOS))
                .total(), 1e-12);
        RewardSpec rules = RewardSpec.of(new RewardSpec.RuleSpec(RewardRules.FORMAT, 1.0));
        assertEquals(null, rules.learned());
        // A model entry without a checkpoint, or twice, is refused.
        RewardSpec.RuleSpec bare = new RewardSpec.RuleSpec(RewardSpec.MODEL, 1.0);
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> RewardSpec.of(bare).learned());
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> RewardSpec.of(model, model).learned());
    }
}
