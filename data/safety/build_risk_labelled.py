"""Build data/safety/risk_labelled.jsonl, the labelled set of the clinical risk detector.

Every sentence below was written by hand for this project (licence CC-BY-4.0, see README.md); nothing is
templated. Sentences come in blocks that share a kind, a risk level and the risk categories, and each block is
split on its own by the order of a hash of its texts, so the assignment never changes when other blocks are
edited:

- rounds 1 and 2 (B(...)): 60 % train, 20 % val, 20 % first test split. That test split was evaluated once
  and then used for development, so its rows are now train (3 in 4) or val, with a `source` that says so;
- round 3, B(..., "dev"): 75 % train, 25 % val;
- round 3, T(...): the round-3 test split, written after the rules were frozen; evaluated twice (once per
  model), now retired as split "test_r3" (reported, never trained on);
- round 5, R5(...): a test split written before the LoRA-tuned encoder was built, evaluated once; its errors
  were published in DETECTOR.md, so it is now development data (3 in 4 train, the rest val);
- round 6, R6(...): a test split written blind by another writer (who never ran or read the detector), in the
  same block structure as round 5; evaluated for two models, its errors read, so now development data;
- round 7, rounds/*.txt: three more writers, each blind to the detector and to the test splits: a test split
  (r7_test.txt, the same blocks as round 6) and development data on the risk and the benign side;
- rounds 8 and 9: more blind development data (r8_dev_*.txt) and two test splits (r8_test.txt, r9_test.txt),
  each evaluated once and now development data;
- round 10: a test split (r10_test.txt), written blind in the same blocks, evaluated once, now development;
  round 11: development data from three more blind writers (r11_dev_*.txt).
- round 12: a test split (r12_test_a.txt, r12_test_b.txt: 429 sentences from two blind writers, committed
  before it was first read), evaluated once, now development; and 3,000 development sentences from six more
  (r12_dev_*.txt).
- round 13: a test split (r13_test_i.txt: 220 messages, most of them long counselling-website posts;
  r13_test_j.txt: 230 sentences in round 12's make-up; two blind writers, committed before it was first read),
  evaluated once, now development; and 400 long development posts from a third (r13_dev_k.txt).
- round 14: a test split (r14_test_p.txt: 220 counselling-website posts; r14_test_q.txt: 229 short messages; two
  blind writers, committed before it was first read), evaluated once, now development; and 1,600 long
  development posts from four more (r14_dev_*.txt).
- round 15: a test split (r15_test_r.txt: 220 counselling-website posts; r15_test_s.txt: 217 short messages, 13
  dropped before any evaluation as near repeats of development text; two blind writers, committed before it was
  first read), evaluated once, now development; and 1,598 development messages from four more
  (r15_dev_*.txt: long posts told with strong feeling, and everyday messages with the surface of a crisis).
- round 16: the current test split (r16_test_x.txt: 220 counselling-website posts; r16_test_y.txt: 208 short
  messages, 11 dropped before any evaluation as near repeats of development text; two blind writers, committed
  before it was first read).

A test sentence whose word set overlaps a development sentence's by a Jaccard index of 0.75 or more makes the
build fail (`near_repeats`): independent writers converge on sentences, and a near repeat would measure memory,
not generalisation.

Run from the repository root:

    .venv/bin/python data/safety/build_risk_labelled.py

It rewrites risk_labelled.jsonl and prints the counts that README.md lists.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path

OUT = Path(__file__).resolve().parent / "risk_labelled.jsonl"
ROUNDS = Path(__file__).resolve().parent / "rounds"
SOURCE = "handwritten"
BLOCKS: list[tuple[str, str, tuple[str, ...], list[str], str]] = []
ROUND = "v1"   # v1: the first two rounds (their test share was evaluated once, then retired); v2: the third round

LEVELS = ("none", "low", "moderate", "high", "imminent")
CATEGORIES = ("suicidality", "self_harm", "homicidal_ideation", "child_abuse", "elder_abuse", "domestic_violence",
              "psychosis", "substance_crisis", "eating_disorder_medical")


def B(kind: str, level: str, categories: list[str], text: str, mode: str | None = None) -> None:  # noqa: N802
    """A block of sentences. mode: "v1" (train/val/retired test), "dev" (train/val only) or "test" (all test)."""
    assert level in LEVELS, level
    assert all(c in CATEGORIES for c in categories), categories
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    BLOCKS.append((kind, level, tuple(categories), lines, mode or ROUND))


def T(kind: str, level: str, categories: list[str], text: str) -> None:  # noqa: N802
    """A block of the third round's test split: written after the detector's rules were frozen."""
    B(kind, level, categories, text, "test")


def R5(kind: str, level: str, categories: list[str], text: str) -> None:  # noqa: N802
    """A block of the fifth round: a test split evaluated once, now development data (see the module docstring)."""
    B(kind, level, categories, text, "test5")


def R6(kind: str, level: str, categories: list[str], text: str) -> None:  # noqa: N802
    """A block of the sixth round: a blind test split, evaluated twice, now development data."""
    B(kind, level, categories, text, "test6")


S, SH, HI, CA, EA, DV, PS, SU, ED = CATEGORIES

# ----------------------------------------------------------------------------------------------------------------
# Suicidality
# ----------------------------------------------------------------------------------------------------------------
B("direct", "high", [S], """
I want to kill myself.
i honestly just want to die
I've been thinking about suicide every day this week.
I keep having thoughts of ending my life and they're getting stronger.
I don't want to be alive anymore.
Every night I lie awake wishing I was dead, and lately I've started thinking about how I'd do it.
I'm going to end my life, I've made up my mind.
I'm seriously considering suicide.
The only thing I can think about is killing myself.
I want to take my own life and I can't find a reason not to.
I tried to kill myself last month and I still think about trying again.
I feel suicidal and I don't know who to tell.
part of me wants to just end it all
I've been researching ways to die.
I'm done. I don't want to live another day like this.
My therapist doesn't know that I've been planning to end my life.
i think about jumping in front of a train on my way to work every single morning now
The suicidal thoughts are back and they're louder than ever.
I want to die and I'm tired of pretending I don't.
Suicide feels like the only way out of this debt.
I hate my life so much I want to end it.
If she leaves me I'm going to kill myself, I mean it.
Nobody would even notice if I killed myself.
I keep googling how many of my tablets it would take.
I can't do this anymore. I want to stop existing.
ive been having suicidal thoughts since i lost my job and they scare me
I've decided I'm not going to be alive by the end of the year.
Sometimes I hold the knife and think about how easy it would be to end it.
I don't want help, I just want to die quietly.
Honestly, I've been thinking of taking all my meds at once.
""")

B("indirect", "high", [S], """
Everyone would be better off without me.
My family would be better off if I wasn't around.
I'm just a burden to everyone who knows me.
I won't be around much longer, so it doesn't really matter.
I've been writing letters to my family so they'll understand afterwards.
I gave my guitar and my games to my little brother, I won't need them.
I've started giving my things away to friends.
I just wanted to say thank you for everything, and goodbye.
This is the last message you'll get from me.
Please look after my cat for me when I'm gone.
I've sorted out my will and my passwords so nobody has to deal with a mess after.
Soon none of this will be my problem anymore.
I won't be here for Christmas this year, but I hope you all have a good one without me.
Tell my mum I'm sorry and that it wasn't her fault.
I've said goodbye to the people who matter. I feel calm now.
It's strange, I finally feel at peace since I decided.
Nobody will have to put up with me for much longer.
I'm tired of being a weight on my kids. They deserve better than me.
I wrote a note and left it in my desk drawer.
I'm not going to be a problem for anyone soon.
I've been saying my goodbyes quietly this week.
I cancelled all my appointments for next month because I won't need them.
I keep thinking how much easier it would be for everyone if I disappeared for good.
I put the kids' photos in a box with a letter for each of them.
Do you think my dog will be okay without me? I've asked my neighbour to take him.
When I'm gone they'll finally see how much it hurt.
I deleted all my accounts and messaged my sister that I love her and I'm sorry for everything.
I have it all worked out, I just need to choose the day.
I've been going to the bridge a lot lately, just standing there looking down.
I'm so tired of fighting. I think it's time to let go for good.
This will be my last birthday, I'm sure of it.
I stopped taking my antidepressants and I've been saving them up instead.
I'm ready to stop being everyone's problem.
honestly the world would be a better place without me in it
I just want the pain to end, permanently.
I paid off my debts and wrote down who gets what.
i made sure the life insurance pays out to my kids no matter what
My parents wouldn't have to worry about money if I wasn't here.
I keep apologising to everyone because I want them to remember me kindly.
I've already chosen the songs I want played at my funeral, it won't be long.
There's no way out of this except one, and I've been thinking about it a lot.
Can you tell me what happens to your bank account after you die? Asking so I can leave things tidy.
My wife will find someone better once I'm out of the picture.
I just need to hold on until my son's birthday, then I can stop.
""")

B("plan_means", "imminent", [S], """
I have the pills counted out and I'm taking them tonight after everyone goes to bed.
I'm on the bridge right now. I just wanted someone to know.
I took the whole packet of paracetamol about an hour ago.
I bought a rope today. I'm going to do it this weekend while my wife is away.
I've written my notes and I'm doing it tonight.
I'm sitting in my car in the garage with the engine running.
I've saved up my sleeping pills for months. Tonight's the night.
i just swallowed everything in the medicine cabinet
I'm standing on the roof of my building and I'm going to jump.
I've got my dad's gun and it's loaded. I'm going to end it after this message.
Friday after my shift I'm driving to the cliffs and that's it.
The bath is running and I have the razor ready. I'm done.
I'm going to hang myself tomorrow morning when my flatmates leave.
by the time anyone reads this I'll be gone. I took them all.
I've set the date for my birthday next week and everything is ready.
I'm at the station and I'm going to step in front of the next train.
I've picked the spot in the woods and I'm heading there now.
Tonight I'm finally going through with it. I have more than enough tablets.
I'm writing this from a hotel room. The pills are on the table and I'm starting now.
I've tied the rope and I'm just waiting for the house to be empty.
In an hour I'll be on the motorway bridge. Please don't try to find me.
I've left the door unlocked so whoever finds me doesn't have to break it.
""")

B("passive_ideation", "moderate", [S], """
Sometimes I wish I could just go to sleep and not wake up, but I'd never do anything.
I don't really want to die, I just want a break from being me.
Lately I've had fleeting thoughts that it would be easier not to exist.
I think about death more than I used to, though I have no plan to act on it.
Some days I wouldn't mind if a bus hit me.
I'm not going to do anything, but I don't care much what happens to me anymore.
I sometimes wonder whether anyone would even miss me.
If I got really sick I don't think I'd bother going to the doctor.
I've stopped seeing why any of it matters. Every day is the same grey nothing.
Part of me wishes I had never been born.
When I drive I sometimes think it wouldn't be so bad if I crashed.
I miss my husband so much that I keep wishing I could be with him wherever he is.
I'm tired of living like this, though I'm not going to hurt myself.
I feel trapped and hopeless and I don't see things ever getting better.
""")

# ----------------------------------------------------------------------------------------------------------------
# Self-harm
# ----------------------------------------------------------------------------------------------------------------
B("direct", "high", [SH], """
I cut myself again last night and it was deeper than usual.
I've been burning my arms with a lighter when things get bad.
I can't stop hurting myself, I did it three times this week.
I self harm almost every day now.
i relapsed and cut again after 6 months clean
I punch walls until my knuckles bleed because it's the only thing that helps.
I scratch my skin until it bleeds and hide it under long sleeves.
I've started hitting myself in the head when I make mistakes, hard enough to leave bruises.
I carved a word into my thigh yesterday.
My self-harm is getting worse, I need more cuts to feel anything.
I hurt myself on purpose so I can feel something other than numb.
I keep blades hidden in my room and use them whenever my parents fight.
When I'm angry at myself I bang my head against the wall until I'm dizzy.
I bite my arms until they bleed.
I don't want to die, I just need to cut to get through the day.
I took a handful of extra pills on purpose, not to die, just to feel the hurt.
My best friend found out I cut and now I'm cutting my legs instead so nobody sees.
i burned myself with the iron on purpose yesterday and i kind of want to do it again
""")

B("indirect", "high", [SH], """
I wear long sleeves even in summer so nobody sees my arms.
I keep 'accidentally' burning myself on the stove and I don't think it's an accident anymore.
I have a box with razors and plasters under my bed. It's my secret coping kit.
The only thing that calms me down is seeing the blood.
I told the school nurse the marks were from my cat.
I deserve the pain and I make sure I get it.
My arms look like a map of every bad day this year.
I'm running out of places on my body that people won't see.
After every argument I lock the bathroom door and do what I always do.
I need something sharp right now or I'm going to explode.
""")

B("plan_means", "imminent", [SH], """
I cut too deep and it won't stop bleeding.
I've just cut and there's so much blood, I'm scared.
I'm in the bathroom with a blade right now and I can't stop myself.
I burned myself badly an hour ago and the skin is blistering and white.
I went further than I meant to tonight and I think it needs stitches but I can't tell anyone.
""")

B("urges", "moderate", [SH], """
I've been getting urges to cut again but I've managed to use ice instead.
I used to self harm and the urges have come back this month, I haven't acted on them.
I snap a rubber band on my wrist hard when I'm anxious.
When I'm stressed I pick at my skin until it's raw.
I keep thinking about hurting myself when I'm overwhelmed, but so far I've distracted myself.
I pull my hair out when I'm anxious and now there's a bald patch.
""")

# ----------------------------------------------------------------------------------------------------------------
# Homicidal ideation
# ----------------------------------------------------------------------------------------------------------------
B("direct", "high", [HI], """
I want to kill my stepfather and I've thought about how I'd do it.
I'm going to hurt my ex so she knows how it feels.
Sometimes I fantasise about stabbing my boss and it scares me how calm it makes me feel.
I keep thinking about strangling my roommate while he sleeps.
I want to make the kids who bullied me pay, every one of them.
If I see him again I'll kill him, and I'm not joking.
I think about shooting up my old school.
My brother deserves to die for what he did and I want to be the one to do it.
I've been imagining running my ex-wife's new boyfriend off the road.
I've been thinking about putting something in my husband's food to get rid of him for good.
i want to hurt people. i don't even care who anymore
I'm so angry at my neighbour I could really kill him, and I've started watching when he leaves.
I can't stop picturing beating my manager with a bat and honestly I want to.
""")

B("indirect", "high", [HI], """
I know where he parks and what time he leaves work. He won't see me coming.
They'll all find out what happens when you push me too far.
I've been looking up how much it takes to poison someone without it showing up.
I've started carrying a knife to work because of my supervisor, and I've thought about using it.
Everyone at that office is going to regret laughing at me.
My ex thinks she can move on with him. We'll see how long he lasts.
I've made a list of the people who ruined my life.
He took my kids from me and one day soon he's going to pay with his life.
I keep driving past her house at night. I just want her to feel as scared as I do.
""")

B("plan_means", "imminent", [HI], """
I'm outside his house with my dad's shotgun. I'm going in.
I'm taking the gun to school tomorrow. They've had it coming.
He's asleep upstairs and I've got the knife. Tonight I end this.
I've bought the ammunition and I know which day she's alone at the shop.
I'm driving to her work right now and I'm going to make her pay.
""")

B("anger", "moderate", [HI], """
I get so angry at my dad that I picture hitting him, but I'd never actually do it.
I have intrusive thoughts about pushing people onto the tracks and they horrify me.
My anger scares me lately, I've been punching the steering wheel and screaming at other drivers.
I had a dream about hurting my sister and I can't shake the feeling.
""")

# ----------------------------------------------------------------------------------------------------------------
# Child abuse
# ----------------------------------------------------------------------------------------------------------------
B("direct", "high", [CA], """
My stepdad hits me with his belt when my mum's at work. I'm 13.
My uncle touches me when nobody's around and says it's our secret.
I'm 15 and my dad punches me if I talk back. I have bruises all over my back.
I'm 12 and my mum locks me in my room without food when she's drunk.
My coach makes me send him photos and says he'll drop me from the team if I tell.
I lost my temper and hit my toddler so hard he has a mark on his face. I'm scared I'll do it again.
My daughter told me her grandfather does things to her at bedtime.
My teacher keeps asking me to stay after class and he touches my leg. I'm 14.
I shake my baby when he won't stop crying and I'm scared I'm going to really hurt him.
My foster parents make me sleep in the garage and hit me with a stick.
My mum's boyfriend watches me in the shower and says I'm old enough now. I'm 13.
My brother is 17 and he comes into my room at night. I'm 11 and I don't know what to do.
My husband beats our son with a cable when he gets bad grades.
""")

B("indirect", "high", [CA], """
My neighbour's little boy has new bruises every week and I hear him screaming at night.
My girlfriend's son is terrified of her boyfriend, he told me the man burns him with cigarettes.
The kids next door are left alone for days with no food and the youngest is only three.
I'm not allowed to eat with the family and I get the belt if I cry. I'm in year 8.
My dad said if I tell anyone about what happens at night I'll be taken away.
My niece flinches whenever her father raises his hand and she's been hiding food in her room.
A boy in my class keeps coming in with burns on his arms and won't change for PE. I'm his teacher and I'm worried.
There's a man messaging my 12 year old on a game, asking her to keep their chats secret and send pictures.
i'm 14 and i don't want to go home, he'll be waiting and he gets angry when mum's out
My sister leaves her baby in a dirty nappy all day and forgets to feed him when she's high.
The little girl downstairs told me her daddy hurts her "down there" and not to tell.
""")

B("plan_means", "imminent", [CA], """
My dad is drunk and hitting my little sister right now, I'm hiding in the cupboard.
My mum's boyfriend says he's going to kill me when he gets home tonight. I'm 12.
The baby next door has been screaming for hours and I just heard a loud bang and then silence.
I'm 10 and my dad left me and my brother alone three days ago and there's no food left.
""")

B("concern", "moderate", [CA], """
I yell at my kids far more than I want to and I'm worried I'm becoming my father.
My ex's new partner is very strict with my son and he comes back quiet and jumpy.
I spanked my daughter yesterday and felt awful. I don't want this to become a habit.
""")

# ----------------------------------------------------------------------------------------------------------------
# Elder abuse
# ----------------------------------------------------------------------------------------------------------------
B("direct", "high", [EA], """
My brother has taken over Dad's bank account and Dad has no money left for food.
The carer shouts at my grandmother and I saw bruises on her wrists.
My 84-year-old mum is left in a soiled bed all day at the care home and has bedsores.
My aunt keeps making Grandad sign papers he doesn't understand, and now his savings are gone.
I saw a staff member slap an elderly resident at the nursing home where I volunteer.
My neighbour is in her nineties and her son locks her in the house when he goes out.
My stepbrother shoves my grandmother around and she's too frightened to tell anyone.
Mum has dementia and her new 'friend' has moved in and is spending her pension.
I'm 79 and my grandson takes my pension every week and threatens to put me in a home if I complain.
Since my son moved back in, he hits me when he's been drinking. I'm 81 and I have nowhere else to go.
Gran's new carer has been taking her jewellery and Gran is scared to say anything.
My uncle leaves my grandma alone for days without food or heating.
""")

B("indirect", "high", [EA], """
Every time I visit Nana she has new bruises and her carer always has an explanation.
Dad isn't allowed to use the phone anymore. My sister says he gets confused, but he sounds scared.
Someone has been withdrawing large amounts from my grandmother's account and she can't remember doing it.
My elderly neighbour hasn't been seen for a week and her nephew won't let anyone in.
Grandpa whispered that he isn't being fed properly and asked me not to tell his son.
The home keeps my father sedated all the time so he's "less trouble", and he's lost so much weight.
My grandfather says his daughter-in-law won't give him his heart tablets unless he signs over money.
""")

B("plan_means", "imminent", [EA], """
My dad is 88 and his carer has tied him to the chair right now and won't let me in.
My grandmother just phoned me crying that her son is hitting her and she's locked herself in the bathroom.
""")

B("concern", "moderate", [EA], """
My mum is getting forgetful and I worry the new neighbour is taking advantage of her.
My brother manages Dad's money and won't show us the statements. It might be nothing.
The care home never answers when I ask why Gran seems so drowsy during visits.
""")

# ----------------------------------------------------------------------------------------------------------------
# Domestic violence
# ----------------------------------------------------------------------------------------------------------------
B("direct", "high", [DV], """
My husband hit me again last night and I'm scared of what he'll do next.
My boyfriend choked me during an argument and I blacked out for a second.
He threw me against the wall and said next time it'll be worse.
My wife punches me when she's drunk and I'm too ashamed to tell anyone because I'm a man.
I'm scared to go home, he said he'd kill me if I ever tried to leave.
My ex keeps turning up at my work and he threatened to burn my house down.
She smashed my phone and locked me out of the house in the snow.
He pushed me down the stairs while I was pregnant.
My husband forces himself on me and says it's his right.
My partner holds a knife to my throat when he's angry.
My boyfriend slapped me in front of his friends and laughed about it.
""")

B("indirect", "high", [DV], """
My partner controls all the money, reads my messages and won't let me see my friends.
I have to ask permission to buy food and he checks every receipt.
I always wear sunglasses to work now so nobody asks questions.
I've packed a bag and hidden it at my friend's in case I need to get out fast.
I walk on eggshells all the time. If dinner is late I know what happens.
He says nobody would believe me and that he'll take the kids if I tell.
My sister's husband won't let her leave the house and she has marks on her neck.
I told the doctor I walked into a door. It was the third door this month.
He put a tracker on my car and checks where I've been every day.
My girlfriend threatens to hurt me if I go out without her, and she has before.
""")

B("plan_means", "imminent", [DV], """
He's outside banging on the door and screaming that he's going to kill me.
My husband has a gun and he's threatening to shoot me and the kids tonight.
I'm hiding in the bathroom, he's broken the door handle and he's coming.
He strangled me an hour ago and now my throat is swelling and it hurts to breathe.
My ex just texted that he's on his way over with a knife.
""")

B("concern", "moderate", [DV], """
My boyfriend gets really jealous and checks my phone, it's starting to scare me.
My husband shouts and breaks things when he's angry, but he's never touched me.
My girlfriend tells me I'm worthless and decides who I'm allowed to talk to.
My partner grabbed my arm hard during a fight last week. He apologised but I keep thinking about it.
""")

# ----------------------------------------------------------------------------------------------------------------
# Psychosis
# ----------------------------------------------------------------------------------------------------------------
B("direct", "high", [PS], """
I know the government has put a chip in my head and they're reading my thoughts.
My food is being poisoned by my family so I've stopped eating anything they give me.
I haven't slept in five days, I'm the messenger and everyone needs to hear me.
There are cameras in the walls and my neighbours follow me everywhere I go.
My thoughts are being broadcast and the people on the bus can hear them.
I'm not sure what's real anymore, the walls are breathing and the voices won't stop.
My husband has been replaced by an impostor who looks exactly like him.
The voices have been telling me I'm being watched and I haven't left my room in a week.
""")

B("direct", "high", [PS, S], """
The voices tell me I'm worthless and that I should jump off the balcony.
The voices tell me I have to die to save my family.
""")

B("direct", "high", [PS, SH], """
The voices tell me I have to hurt myself to make them stop.
""")

B("direct", "high", [PS, HI], """
I hear a man's voice telling me to kill my neighbour because she's a demon.
The TV is sending me messages about who I need to punish.
God has chosen me to cleanse the world and I've been told I must start soon.
""")

B("direct", "high", [PS, CA], """
The devil is inside my son and I need to get it out of him whatever it takes.
""")

B("indirect", "high", [PS], """
I covered all the mirrors because they use them to watch me.
The numbers on the licence plates are instructions meant only for me.
I've stopped taking my medication because that's how they control me.
The radio presenter keeps talking directly to me and telling me what I have to do.
I have to protect everyone from the people hiding in my loft.
My neighbours are pumping gas through the vents, so I've blocked them all with towels.
""")

B("plan_means", "imminent", [PS, SH], """
The voices are screaming at me to stab myself and I've got the knife in my hand.
""")

B("plan_means", "imminent", [PS, S], """
God told me to walk into the sea tonight and I'm on my way.
I can see shadows watching me and they whisper that I have to die tonight.
""")

B("plan_means", "imminent", [PS, HI], """
I'm going to burn the house down tonight to get rid of the demons in it.
The man in the flat below is the one controlling me and I'm going down there now to stop him.
""")

B("early_signs", "moderate", [PS], """
Sometimes I hear my name called when nobody is there, and it's happening more often.
I've been feeling like people on the street are talking about me. I know it's probably not true.
I haven't slept properly in days, my thoughts are racing and I've spent all my savings on a business idea.
Colours seem too bright and things feel unreal since I stopped my medication.
""")

# ----------------------------------------------------------------------------------------------------------------
# Substance crisis
# ----------------------------------------------------------------------------------------------------------------
B("direct", "high", [SU], """
I took way too much oxy and I can't keep my eyes open.
I've been drinking a litre of vodka a day and when I stop I shake and see things.
I mixed Xanax with a bottle of wine and my heart is doing weird things.
I relapsed on heroin after a year clean and I'm using alone.
I've been on a three-day bender and I can't stop vomiting.
I ran out of my benzos and the withdrawal is terrible, I feel like I might have a seizure.
I've been using meth for four days straight and I'm hearing things.
I drink until I black out every night and I woke up in a stranger's car this morning.
I think the coke was cut with something, my chest is really tight.
I'm three days into quitting alcohol cold turkey and I'm shaking, sweating and confused.
I took double my methadone dose and some valium on top.
""")

B("direct", "high", [SU, S], """
I'm shooting up more and more and honestly I don't care if I overdose.
I keep drinking to work up the courage to end things.
""")

B("indirect", "high", [SU], """
I've been buying fentanyl off a guy in an alley and I don't bother testing it.
I can't get through the morning without a drink anymore and I keep a bottle by the bed.
I'm using way more than last time and I'm alone, nobody would find me.
I crashed my car drunk last night and I'm planning to drink again tonight.
I keep waking up not remembering how I got home and there's blood on my clothes.
""")

B("third_party_crisis", "imminent", [SU], """
My boyfriend took something at the party and won't wake up, his lips are going blue.
My brother just overdosed, he isn't breathing, what do I do?
My roommate is having a seizure after drinking all weekend and then stopping suddenly.
My friend keeps passing out and her breathing sounds wrong after the pills she took.
""")

B("plan_means", "imminent", [SU], """
I've just taken a huge dose of heroin after being clean for months and my breathing feels slow.
I've taken ten of my mum's sleeping tablets with whisky and my vision is going.
""")

B("plan_means", "imminent", [SU, S], """
I've taken 40 of my antidepressants and washed them down with vodka.
""")

B("misuse", "moderate", [SU], """
I've been drinking most nights to get to sleep and I'm up to a bottle of wine.
I smoke weed all day and I can't seem to cut down.
I've been taking more of my painkillers than prescribed to get through work.
I relapsed at the weekend after three months sober and I feel awful about it.
I can't go to a party without taking something and it's every weekend now.
""")

# ----------------------------------------------------------------------------------------------------------------
# Eating disorder, medical danger
# ----------------------------------------------------------------------------------------------------------------
B("direct", "high", [ED], """
I haven't eaten in five days and I fainted in the shower this morning.
I make myself throw up after every meal and now there's blood in it.
My heart keeps racing and skipping since I started eating 300 calories a day.
I take twenty laxatives a day and I keep getting dizzy and my legs cramp.
My BMI is 14 and I still feel fat. I black out when I stand up.
I've been purging five or six times a day and my chest hurts.
My period stopped, my hair is falling out and I'm cold all the time, but I can't stop restricting.
I collapsed at school and the nurse said my heart rate was 38. I still won't eat.
I binge and purge until I nearly pass out, I did it four times today.
""")

B("indirect", "high", [ED], """
I've lost 15 kilos in two months and people keep saying I look ill. I get palpitations at night.
I run two hours a day on nothing but black coffee and my vision went dark on the treadmill.
I only drink water and diet soda now. Yesterday I woke up on the kitchen floor.
My teeth are eroding and my throat bleeds sometimes, but it's the only way I feel in control.
My potassium was low at my last blood test and I skipped the follow-up because they'd make me eat.
I'm so dizzy I can barely stand, but eating feels impossible.
""")

B("direct", "high", [ED, SH], """
I've been starving myself and cutting as punishment for eating.
""")

B("third_party_crisis", "high", [ED], """
My daughter weighs 35 kilos and now she's stopped drinking water as well as eating.
""")

B("plan_means", "imminent", [ED], """
I've had chest pain for an hour since purging and my heart is beating really strangely.
I haven't had anything to eat or drink for three days and I'm confused and can't stand up.
""")

B("third_party_crisis", "imminent", [ED], """
My sister has anorexia and she just collapsed, she's barely conscious.
""")

B("restriction", "moderate", [ED], """
I've been skipping meals and counting every calorie, and I feel guilty whenever I eat.
I binge at night and then make myself exercise for hours.
I weigh myself ten times a day and panic if the number goes up.
I've started making myself sick after big meals sometimes.
I've cut out everything except salad and I think about food all day.
""")

# ----------------------------------------------------------------------------------------------------------------
# Multi-category crises
# ----------------------------------------------------------------------------------------------------------------
B("direct", "high", [DV, CA], """
He hits me and now he's started on the kids too.
My partner beat me in front of our daughter and then dragged her to her room by her hair.
""")

B("indirect", "high", [S, SH], """
I've been cutting deeper each time and part of me hopes one day I won't wake up.
""")

B("direct", "high", [DV, S], """
He beats me whenever he drinks and I've started thinking dying would be easier than leaving.
""")

# ----------------------------------------------------------------------------------------------------------------
# Low: distress without risk indicators, mild concerns
# ----------------------------------------------------------------------------------------------------------------
B("distress", "low", [], """
I've been feeling really low and I can't get out of bed some days.
I feel so lonely since I moved to this city.
My anxiety is through the roof and I keep having panic attacks before meetings.
I cry every night since my divorce.
I feel like a failure compared to all my friends.
Everything feels grey and pointless lately, but I'm still going to work.
I'm exhausted from caring for my mum and I snap at everyone.
I've been struggling since my dad died, nothing feels the same.
I feel empty most days and I don't enjoy the things I used to love.
I can't stop worrying that something bad will happen to my kids.
I haven't been sleeping and I feel on edge all the time.
I feel like nobody really knows me.
I got rejected from every university I applied to and I feel worthless.
I'm so burnt out that I sat in the car park for twenty minutes crying before work.
My chronic pain is wearing me down and I feel hopeless about getting better.
I feel numb since the miscarriage and my husband doesn't understand.
Since the accident I jump at every loud noise and have nightmares.
I was bullied all through school and I still feel ugly and stupid.
""")

B("negated", "low", [], """
I don't want to hurt myself, I just feel completely overwhelmed by work.
I'm not suicidal or anything, I just feel really flat and unmotivated.
I would never hurt my kids, but I'm so tired that I cry when the baby won't settle.
I've never thought about ending my life, I just feel stuck and lonely.
""")

B("concern", "low", [SU], """
I drink a bit more than I should at weekends and I wonder if it's a problem.
I've noticed I reach for a glass of wine every time I'm stressed.
""")

B("concern", "low", [ED], """
I've been comparing my body to everyone at the gym and skipping lunch sometimes.
""")

B("third_party", "low", [], """
My friend seems really down lately and isn't answering my texts, how can I help?
My teenage son spends all his time in his room and barely talks to us.
I'm worried my mum drinks too much wine in the evenings.
My best friend has been withdrawn since her grandad died and I don't know what to say.
My sister is stressed about her exams and has been barely eating at lunch.
My dad's been drinking more since he retired, should I say something?
My girlfriend gets panic attacks and I never know how to help her through them.
My colleague mentioned she's been feeling hopeless since her divorce. How do I check in with her?
My son was caught vaping at school and I'm not sure how to handle it.
My friend's boyfriend seems controlling, he always answers her phone. Should I say something?
""")

# ----------------------------------------------------------------------------------------------------------------
# Hard negatives: idioms and hyperbole
# ----------------------------------------------------------------------------------------------------------------
B("idiom", "none", [], """
This commute is killing me.
I could murder a burger right now.
I'm dying to see the new Marvel film.
My feet are killing me after that hike.
My mum is going to kill me when she sees this phone bill.
That stand-up set was so funny I nearly died laughing.
Ugh, this spreadsheet will be the death of me.
I'm bored to death in this meeting.
I'd kill for a cup of tea right now.
She absolutely killed it at her presentation.
My boss will murder me if I miss this deadline.
We're dying to know whether it's a boy or a girl!
I'm starving, can we get lunch?
I was so embarrassed I wanted the ground to swallow me up.
I'm dead tired after the night shift.
My phone battery is dying again.
That exam absolutely slaughtered me.
The suspense is killing me, just tell me!
Kill me now, it's Monday again.
I'm going to strangle my brother if he borrows my charger one more time lol
The new bass player murdered that solo.
My plants keep dying no matter what I do.
We killed two birds with one stone by doing the shopping on the way home.
I'm scared to death of spiders.
These shoes are to die for.
I'd rather die than sing karaoke in front of my coworkers.
I'm going to lose my mind if the neighbours play that song again.
My heart stopped when I saw the price.
Leg day absolutely destroyed me, I can't walk.
I'm drowning in paperwork this week.
Let's kill some time before the film starts.
He's going to kill me for dinging his car.
That cliffhanger killed me, I need the next season now.
I'm so hungover I want to die.
The wifi in this hotel is slowly killing me.
I'm dying of boredom here.
She'll have my head if I'm late again.
We got absolutely murdered in the pub quiz.
The final boss keeps killing me, I've died about forty times.
That joke killed, the whole room was crying.
I'm overdosing on Christmas films this month.
I'm so addicted to this show, I watched the whole season in a day.
The traffic on the ring road was murder this morning.
I almost had a heart attack when the cat jumped out.
My sister's cooking could kill someone haha.
It's a killer workout but worth it.
I kept hearing voices from the flat upstairs all night, they were having a party.
These deadlines are going to be the end of me.
I could cheerfully strangle whoever designed this form.
My laptop died in the middle of the presentation.
If the printer jams one more time I'm throwing myself out the window.
That horror film scared me to death, I slept with the light on.
My grandad says he'll die happy if we win the league this year.
I'm literally dead, that video is the funniest thing I've seen.
You're killing me with these puns.
Running a marathon in this heat would be suicide.
Our team committed career suicide with that pitch.
The dress was so tight I couldn't breathe all night.
My inbox is a bloodbath after the holiday.
I'm going to die of embarrassment if he reads my message.
""")

B("accident", "none", [], """
I cut myself shaving this morning and bled everywhere, so annoying.
I burned my hand on the oven tray again, I need better gloves.
I sliced my finger chopping onions and needed a plaster.
I fell off my bike and my knee is bleeding a bit, should I clean it with water?
""")

# ----------------------------------------------------------------------------------------------------------------
# Hard negatives: recovered past history
# ----------------------------------------------------------------------------------------------------------------
B("past_history", "none", [], """
Ten years ago I attempted suicide, but I'm doing well now and wanted to share my story.
I used to self harm as a teenager. I'm 30 now and haven't done it in over a decade.
I was in an abusive relationship years ago and I've finally rebuilt my life.
Five years sober this month and I'm proud of myself.
When I was younger I had anorexia and spent time in hospital, but I eat normally now.
I had a psychotic episode at university, but with medication I've been stable for eight years.
My dad used to hit us when we were kids. I've done a lot of therapy and I'm in a good place now.
Back in 2015 I overdosed and nearly died. It changed everything and I've been clean since.
I survived a suicide attempt in my twenties and now I volunteer on a helpline.
The scars on my arms are from a long time ago. How do I answer when people ask about them?
I used to hear voices when I was very unwell. They went away with treatment years ago.
When I was 16 I wanted to die every single day. I'm 25 now and life is so much better.
After my attempt I went through therapy and I've been stable for years, I just wanted to say thank you to the people who helped.
I left my violent ex four years ago and I'm finally dating again.
Years ago I was hospitalised for bulimia. Food can still be complicated but I'm physically healthy.
I'm a recovering alcoholic, twelve years now, and I sponsor others.
In high school I cut myself for a few months. I don't get urges anymore, but I'm writing about it for my blog.
I went through a dark time after my divorce and had thoughts of ending it, but that was a long time ago and I'm happy now.
My stepmum used to lock me out of the house as a kid. I'm 40 now and have a lovely family of my own.
I was hospitalised for mania in 2012 and I've been well on lithium ever since.
My grandmother was financially exploited by a neighbour years ago; we sorted it out and she's safe now.
I overdosed at nineteen. Now I'm a nurse and I want to help people like I was.
It's been three years since I last hurt myself and I wanted to celebrate with someone.
As a child I was neglected and went into care. Today I'm a foster carer myself.
I used to binge drink every weekend at uni, but I've barely touched alcohol since I had kids.
I tried to take my life when I was 17. I'm 35 now and I've never felt that way since.
""")

B("past_history", "low", [], """
I was abused as a child and I'm finally ready to talk about it with a therapist.
I haven't had a drink in three years but I still think about it at parties.
I had suicidal thoughts in my teens and sometimes I worry they'll come back, though I feel okay right now.
Old self-harm scars make me self-conscious at the beach.
My ex hurt me years ago and I still flinch when someone raises their voice.
""")

# ----------------------------------------------------------------------------------------------------------------
# Hard negatives: professional and educational context
# ----------------------------------------------------------------------------------------------------------------
B("professional", "none", [], """
I'm a nursing student, what are the warning signs of suicide I should look out for?
As a school counsellor, how should I respond if a student discloses self-harm?
What questions do clinicians ask in a suicide risk assessment?
I'm a therapist and I'd like guidance on safety planning with clients who have suicidal thoughts.
What are the risk factors for elder abuse in care homes?
Can you explain the Columbia Suicide Severity Rating Scale?
I'm writing my dissertation on domestic violence and coercive control, can you recommend sources?
How do paramedics manage an opioid overdose?
What is the difference between delusions and hallucinations in schizophrenia?
As a teacher, what are my safeguarding duties if I suspect a child is being abused?
What are the medical complications of anorexia nervosa?
How common is self-harm among teenagers?
I'm training to be a crisis line volunteer. How do I ask someone directly whether they're thinking of killing themselves?
What should a GP do when a patient presents with alcohol withdrawal?
Is it true that asking someone about suicide puts the idea in their head?
In my social work placement we discussed mandatory reporting of child abuse. When does the duty apply?
What's the evidence for means restriction in suicide prevention?
I'm a psychiatry resident. How do you assess command hallucinations for risk of violence?
What are the signs that someone might be in an abusive relationship?
Our HR team wants training on supporting employees after a colleague's suicide.
What is refeeding syndrome and why does it matter when treating anorexia?
For my psychology class, what is the difference between homicidal ideation and intrusive thoughts?
What does a safety plan for domestic violence usually include?
How do you tell delirium tremens apart from an ordinary hangover?
I'm a pharmacist. What should I say when I hand out naloxone kits?
What are the statistics on suicide among middle-aged men?
How should a care home investigate an allegation of abuse by a staff member?
Can you summarise the NICE guidance on self-harm for my exam?
I lead a youth group. How do I talk to teenagers about online grooming?
What are the stages of alcohol withdrawal?
I run a support group for survivors of domestic abuse. Any tips for the first session?
What is postpartum psychosis and how quickly does it need treatment?
I'm a hospital chaplain. How can I support families after a suicide?
What does "duty to warn" mean for therapists when a client threatens someone?
How do emergency departments treat a paracetamol overdose?
We're doing a unit on eating disorders in health class. What's a good way to introduce it?
What are the signs that a child is being groomed online?
What do nurses have to report when they suspect elder abuse?
I'm a police trainee. How are officers taught to de-escalate someone in a psychotic crisis?
Which screening questionnaires are used for alcohol use disorder in primary care?
How should journalists report on suicide without causing copycat deaths?
I'm designing a workshop on bystander intervention for domestic abuse, what should I cover?
""")

B("professional", "low", [], """
My patient keeps telling me she wants to die. What's the best way to document that and escalate it?
I'm a support worker and one of my clients hinted at self-harm today. What should my next step be?
""")

# ----------------------------------------------------------------------------------------------------------------
# Hard negatives: fiction, media and creative work
# ----------------------------------------------------------------------------------------------------------------
B("fiction", "none", [], """
In my novel the main character tries to kill herself in chapter three. How do I write it responsibly?
I'm writing a short story where the villain poisons his brother. How would a detective figure it out?
My screenplay has a scene where a father hits his son and I want the mum's reaction to feel real.
In the game I'm designing, the protagonist hears voices telling him to burn the city.
My D&D character is a necromancer who wants to kill the king.
I'm writing a poem about a girl who self-harms. Does this line sound too graphic?
In the film we watched last night the husband locks his wife in the basement, it was terrifying.
For a creative writing assignment I'm writing from the point of view of someone with anorexia.
My fanfic has a character who overdoses at a party and I want the aftermath to be realistic.
The book I'm reading is about a boy whose grandmother is abused by her carer.
In my thriller the narrator plans to murder his business partner on a boat.
Could you help me write a goodbye letter for a character who is leaving Earth forever?
I'm writing a play about a soldier who comes home and struggles with thoughts of suicide.
In episode five the detective discovers the victim's suicide note was forged.
My comic's hero is a vigilante who kills drug dealers. Is that too dark for teens?
In the story, she gives away all her belongings before she disappears.
The song is about someone standing on a bridge thinking about jumping, and I love the chorus.
I'm drafting a horror script where a cult leader hears God telling him to sacrifice his followers.
Is Lady Macbeth's sleepwalking scene about guilt or psychosis?
In my novel the mother drinks herself unconscious every night and the kids have to cope.
My character says "I want to die" in the last scene. Is it too much for a YA book?
We're reading Of Mice and Men in class and I can't stop thinking about the ending.
The podcast episode about the nurse who poisoned her patients was chilling.
In our school play, Juliet stabs herself at the end and I have to make it look believable.
My villain writes letters to his victims' families before he strikes. Is that too cliché?
In the video game, your character can choose to betray and kill the whole crew.
""")

# ----------------------------------------------------------------------------------------------------------------
# Hard negatives: third-party worry that is not a crisis, everyday life
# ----------------------------------------------------------------------------------------------------------------
B("third_party", "none", [], """
My colleague seems burnt out. How can I support him without overstepping?
My son is being bullied at school and doesn't want to go in.
My mum keeps forgetting things, could it be early dementia?
My teenager spends hours gaming and gets angry when I take the console away.
My flatmate never cleans and it's driving me mad.
How do I support my partner through chemotherapy?
My friend came out as gay and I want to be supportive.
My grandma is lonely since grandad died. Any ideas for keeping her company?
My son's girlfriend broke up with him and he's been moping about all week.
My husband's been quiet since he lost his job, how can I encourage him?
My daughter is nervous about starting secondary school.
My dad refuses to see a doctor about his cough.
My best friend is moving abroad and I'm going to miss her terribly.
My brother keeps borrowing money and never pays it back.
""")

B("everyday", "none", [], """
What's a good recipe for a quick weeknight dinner?
I'm nervous about my driving test tomorrow.
My cat knocked my coffee off the table again.
Can you help me plan a birthday party for my son?
I've got a dentist appointment tomorrow and I hate the drill.
I'm giving away my old clothes to charity this weekend.
I'm writing thank-you letters to my family after the wedding.
I'm moving abroad next month so I won't be around for the summer barbecues.
I said goodbye to my colleagues today, it was my last day at the job.
I've updated my will now that the baby has arrived.
I bought a new rope for the climbing trip this weekend.
I sold my bike and gave my books away before the move to Japan.
I stocked up on paracetamol because flu is going around the office.
Tonight I'm finally going to finish the jigsaw I started in January.
I've made up my mind, I'm handing in my notice on Friday.
Everything is ready for the trip, the bags are packed.
I won't be here for Christmas this year because we're visiting my in-laws.
How do I get red wine out of a carpet?
Any tips for keeping houseplants alive over the winter?
I'm training for a 10k and my knees ache after long runs.
Our boiler broke and the landlord won't answer.
I keep losing my keys, how do other people stay organised?
I gave my old laptop to my nephew since I don't need it anymore.
I'm saying goodbye to this flat tomorrow, ten years of memories.
The knife block in our kitchen is missing the bread knife, any idea where it went?
I'm taking a break from social media for a month to focus on exams.
My will-writing appointment is next Tuesday, what documents should I bring?
I've been counting calories to train for a bodybuilding show and my coach approved the plan.
We're having a leaving party for my manager, what should I write in the card?
I finished the last of my antibiotics today, finally.
I fasted for Ramadan this year and felt great.
My toddler refuses to eat vegetables, any tricks?
""")

B("grief", "low", [], """
We're putting our dog to sleep tomorrow and I'm heartbroken.
My grandmother died last week and I keep replaying our last conversation.
""")

# ----------------------------------------------------------------------------------------------------------------
# Hard negatives: ordinary counselling questions
# ----------------------------------------------------------------------------------------------------------------
B("benign_counselling", "none", [], """
How can I stop overthinking everything I say in conversations?
I get really nervous before job interviews. Any tips?
My husband and I keep fighting about money. How do we communicate better?
How do I set boundaries with my mother-in-law?
I can't sleep because my mind races at night.
How can I be more confident at work?
I feel jealous whenever my partner talks to his ex. Is that normal?
How do I forgive my best friend for lying to me?
My parents don't accept my girlfriend. What should I do?
I procrastinate on everything and then panic at the last minute.
How do I know if I'm ready for marriage?
I have a hard time saying no to people.
How can I get my teenage daughter to open up to me?
I think I'm an introvert. How do I make friends in a new city?
I keep comparing myself to people on Instagram.
How do I control my temper when my kids don't listen?
How do I rebuild trust after my partner cheated?
Is it normal to still miss my ex after two years?
Our sex life has become routine. How do we bring back intimacy?
How do I tell my parents I'm dropping out of college?
I feel guilty every time I take a day off work.
My partner wants children and I'm not sure I do.
How do I deal with a coworker who takes credit for my work?
Is it okay to go to therapy if nothing is really wrong?
How do I find a therapist who understands LGBTQ issues?
My wife says I don't listen. How can I get better at it?
I feel like I've lost my sense of purpose since retiring.
How can I support my child through our divorce?
I always fall for people who aren't available. Why do I do that?
What's the difference between a psychologist and a counsellor?
I get anxious in crowded places. How can I manage it?
My stepkids don't respect me. How do I handle it?
I have trouble trusting new people after being let down.
How can I stop people-pleasing?
My boyfriend never wants to meet my friends. Should I be worried?
How do I cope with feeling homesick at university?
I feel stuck in a career I don't enjoy.
We're moving in together next month and I'm nervous about it.
How can I improve my self-esteem?
Why do I feel so tired after socialising?
My mother criticises my parenting constantly. How do I respond?
How do I stop checking my phone every five minutes?
I find it hard to relax on holiday.
How do I tell my friend her comments hurt me?
What does a first therapy session usually look like?
How do I stop feeling like an impostor at work?
I want to reconnect with my estranged brother. Where do I start?
My partner and I have different religions. How do we raise our kids?
I cry easily at work and it's embarrassing. How can I manage it?
How do I handle my teenager lying to me?
I get angry when people are late. Is that a problem?
How can I stop worrying about what people think of me?
My in-laws keep turning up without calling. How do I say something?
I'm a perfectionist and it makes everything take forever.
How can I make my long-distance relationship work?
How do I stop being so defensive in arguments?
My father and I never got along and now he's ill. Should I visit?
How can I be a better listener?
Is it normal to feel nothing after a breakup?
I'm scared of driving on motorways. Is there therapy for that?
""")

# ----------------------------------------------------------------------------------------------------------------
# Second round: more indirect phrasings, thinner categories and benign look-alikes
# ----------------------------------------------------------------------------------------------------------------
B("indirect", "high", [S], """
I've been quietly returning everything I borrowed so nothing is left hanging when I go.
I asked my best friend to promise she'll look after my mum.
I already know what I'm going to write to each of them.
I'm just so tired. I think everyone will understand eventually why I had to go.
Don't worry about me anymore, soon it won't matter.
I told my brother he can have my car, I won't be needing it.
I keep looking at the tall buildings on my way home and thinking about the drop.
I took out extra life insurance and made sure the waiting period is over.
My family will get over it quickly, honestly they'll be relieved.
I've been visiting all my old places one last time.
I finally know how to make the pain stop, and I'm not scared anymore.
I left my wedding ring and my watch on the kitchen table with a note for my wife.
This time next week none of you will have to deal with me.
I don't think I'll make it to the end of the month, and honestly I don't want to.
I've been getting my affairs in order so my kids aren't left with a mess.
""")

B("direct", "high", [S], """
Every day I think about hanging myself.
I've started writing down ways I could do it.
I'm so close to ending everything.
I want to go to sleep and never wake up, and I've been thinking about how to make that happen.
""")

B("plan_means", "imminent", [S], """
Everything is ready and I'm taking the pills at midnight.
I'm parked by the reservoir with the hosepipe in the car.
I'm already out on the ledge outside my window.
I've started taking them one by one while I type this.
""")

B("direct", "high", [SH], """
I've been cutting on my hips where no one will see.
Every night I dig my nails into my arms until they bleed.
I keep a lighter in my pencil case for when school gets too much.
I hit myself with a hairbrush until I bruise.
I've started scratching my wrists with a compass in class.
""")

B("plan_means", "imminent", [SH], """
I just poured boiling water on my arm on purpose and the skin is peeling off.
""")

B("direct", "high", [HI], """
I've been sharpening a knife every night thinking about my father.
If my ex turns up at the school gates again I'll stab him, I've got the knife in my bag.
I keep wondering how long it would take anyone to notice if my flatmate went missing.
I want to see my stepmum suffer the way I have, and I've been planning it.
""")

B("plan_means", "imminent", [HI], """
I'm waiting behind his garage with a crowbar. When he gets home it's over for him.
""")

B("direct", "high", [CA], """
My boyfriend makes my 6 year old stand in the corner for hours and hits him if he moves.
My daughter came back from her dad's with a split lip and says she fell again.
I'm 16 and my mum's boyfriend keeps coming into the bathroom when I'm in there.
The childminder leaves the toddlers strapped in their chairs all day and they cry for hours.
I see the boy next door sitting outside in the cold until late at night, and he's only about seven.
My cousin is 13 and she says an older man from church is her 'boyfriend'.
""")

B("direct", "high", [EA], """
My grandmother's carer pins her arms down to wash her and she screams.
My father-in-law has dementia and my husband's brother sold his house without telling anyone.
Mum is in a wheelchair and her partner leaves her in bed all weekend when he goes drinking.
My 90-year-old neighbour told me her grandson hits her if she won't give him cash.
Since Nan moved in with my uncle she's lost loads of weight and he won't let us visit her alone.
The night staff at Dad's care home leave him sitting in wet sheets and laugh at him.
My aunt gives Grandma extra sleeping pills so she doesn't wander at night.
Grandad keeps asking me for money for food even though he has a good pension. His lodger has his bank card.
""")

B("direct", "high", [DV], """
My husband twisted my arm until something cracked and told me to say I fell.
My girlfriend hit me with a bottle last weekend and I still have stitches.
He takes my car keys and my phone when he goes out so I can't leave.
My partner says if I leave he'll make sure I never see the kids again, and last time he pinned me to the floor.
I'm pregnant and he kicked me in the stomach.
My husband watches me through the cameras he installed and punishes me if I talk to men.
""")

B("plan_means", "imminent", [DV], """
He's locked me in the bedroom and says he's coming back with petrol.
""")

B("plan_means", "imminent", [DV, CA], """
My partner is drunk and smashing the house up, he's got the kitchen knife and I'm hiding in the car with the kids.
""")

B("direct", "high", [PS], """
My neighbours put thoughts into my head at night and I can feel the wires.
The people on TV know everything I'm thinking and they're laughing at me.
I've been awake for a week writing the book that will save humanity and I don't need sleep anymore.
The smoke alarm is a listening device and the landlord is in on it.
I can hear my dead father ordering me around and he's getting angrier.
I'm being tested by angels and I have to stop eating until they speak to me.
""")

B("direct", "high", [PS, SH], """
There's a microchip in my tooth and I tried to pull it out with pliers.
""")

B("direct", "high", [PS, HI], """
The newsreader told me my mother is a spy and I need to deal with her.
""")

B("plan_means", "imminent", [PS, CA], """
The voices say my baby is evil and I have to drown him tonight.
""")

B("plan_means", "imminent", [PS, S], """
I'm on the roof because the voices said I can fly.
""")

B("direct", "high", [SU], """
I've been drinking since this morning on top of my diazepam and I keep falling over.
I don't know what was in the pill but I can't stop shaking and I'm burning up.
I inject alone in my flat every night now and nobody checks on me.
My heart's going crazy after doing lines all night and I can't calm down.
I've had the shakes and sweats for two days since I stopped drinking and now I'm seeing bugs on the walls.
I keep mixing GHB with alcohol at parties and last time I collapsed.
""")

B("third_party_crisis", "high", [SU], """
My dad's been drinking for days and now he's confused and talking to people who aren't there.
""")

B("third_party_crisis", "imminent", [SU], """
My mate took a load of ketamine and he's not responding, his eyes are open but he's not there.
My flatmate has been unconscious since last night after a lot of vodka and pills.
""")

B("direct", "high", [ED], """
I've been living on 200 calories and energy drinks and my heart flutters constantly.
I purge in the shower several times a day and my hands are always shaking and numb.
My resting heart rate is 40 and the doctor wants me admitted but I refused.
I keep fainting in lectures because I haven't eaten properly in weeks.
I take diuretics and laxatives together and my muscles keep cramping and twitching.
I'm only having black coffee and chewing gum and I've started getting chest pains.
""")

B("plan_means", "imminent", [ED], """
I've been vomiting blood after purging and I feel like I'm going to pass out.
""")

B("passive_ideation", "moderate", [S], """
I've had thoughts of death on and off this month, nothing I'd act on, but they won't go away.
Sometimes I think it would be a relief if I just didn't exist, then I feel guilty for thinking it.
""")

B("concern", "moderate", [SU], """
I've been drinking alone most nights since the breakup and I can't remember some evenings.
""")

B("concern", "moderate", [DV], """
My husband called me names in front of our friends again and I'm starting to feel scared of his moods.
""")

B("early_signs", "moderate", [PS], """
I've started seeing things out of the corner of my eye when I'm very tired.
""")

B("everyday", "none", [], """
I've given my old toys away to my niece, she loves them.
I'm writing a letter to my MP about the bus cuts.
We said our goodbyes at the airport and I cried the whole flight.
It's my last shift at the café tonight, I'm going to miss everyone.
I bought a length of rope to tie the tarp down on the trailer.
I counted out my vitamins for the week into the pill organiser.
I'm standing on the bridge taking photos of the sunset, it's gorgeous.
I'm finally ready to let go of my old car, it's served me well.
Once I'm gone on holiday my sister will feed the cat.
I'm disappearing for a week to a cabin with no wifi, wish me luck!
I'm giving away all the baby things now that the kids are older.
This is my last week at school before I graduate!
I've made a plan for paying off my student loan by next year.
Tonight's the night I finally ask her out.
I've decided to end things with my boyfriend, it's been coming for a while.
I want to end it with my business partner but I'm worried about the money.
I'm taking the train to the coast tomorrow to see my gran.
I've got a knife-sharpening class on Saturday, any tips?
I'm so tired I could sleep for a week.
I have a plan for tonight: pizza, a bath and an early night.
I took two paracetamol for my headache and it's finally easing.
I'm on the roof fixing the gutter, my wife thinks I'm mad.
My gran's carer is lovely, she brings her flowers every week.
I'm sorting out Mum's pension paperwork now that she's in a home, it's so confusing.
I wrote goodbye cards for everyone in my class before we moved house.
My brother can have my old bike, I've got a new one for my birthday.
I'm leaving my job next week and I've been saying goodbye to everyone.
""")

B("grief", "low", [], """
The vet says our old dog won't be around much longer, so we're spoiling him rotten.
After the funeral we all went to the pub and told stories about Grandad.
""")

B("idiom", "none", [], """
My dad is going to murder me when he sees the scratch on the car.
I'm going to kill my sister, she ate the last slice of cake.
My teacher will kill me if I forget my homework again.
This sunburn is killing me.
Honestly I'd die for a lie-in tomorrow.
My flatmate's snoring is going to be the death of me.
I practically died when my crush replied.
These heels are murder on my feet.
I'm going to shoot myself if I hear that jingle one more time lol
That spin class nearly killed me.
Somebody put me out of my misery, this meeting will never end.
We are dying to try that new ramen place.
My gran says the cold will be the death of her, she's such a drama queen.
I'm starving myself of sleep for these exams lol
He absolutely murdered the karaoke with that Whitney song.
""")

B("past_history", "none", [], """
My last self-harm was when I was fifteen and I'm twenty-eight now. I have the scars but not the urges.
I spent a month in a psychiatric unit after a suicide attempt in 2009, and today I run a peer-support group.
I was beaten by my father growing up. I'm fifty now and I've made peace with it.
I used to take pills to numb myself at university. I've been clean since graduation.
Long before I met my husband I was with a man who hit me. That was over fifteen years ago.
I had bulimia through my twenties and I've been in recovery for nine years.
I used to believe the TV was talking to me when I was ill. Medication changed everything.
I haven't touched heroin in six years and I just got my first full-time job.
After my overdose at twenty I got help, and I'm doing really well now.
""")

B("professional", "none", [], """
I'm a midwife. Which signs of postnatal depression with suicidal thoughts should I screen for?
How should a youth worker respond if a teenager says they're being hit at home?
What are the legal duties of a care home manager when a resident reports theft by staff?
I'm a medical student. How is opioid toxicity recognised in A&E?
For my nursing essay, how do you assess risk of harm to others in a mental state examination?
What training do call handlers get for calls from people threatening suicide?
I teach PSHE. How do I talk to Year 9 about self-harm without making it sound appealing?
How do dieticians monitor electrolytes in patients with severe anorexia?
Our church safeguarding lead asked what to do if an elderly member seems to be financially abused.
What percentage of people who self-harm go on to attempt suicide?
How should a therapist document a client's threat to kill someone?
""")

B("fiction", "none", [], """
In chapter ten of my fantasy novel the queen hears voices ordering her to burn the capital.
I'm writing a radio drama where a husband controls his wife's money and phone. How do I show it without melodrama?
My short film ends with a teenager leaving a note on her bed. Is the ending too bleak?
In my comic the villain poisons the town's water supply.
For drama class we're improvising a scene where a son confronts his abusive father.
The main character in my book stockpiles pills but her sister finds her in time. Does that seem realistic?
I just watched a documentary about a cult leader who believed he was the messiah.
In the crime novel I'm reading, the grandson steals his grandmother's pension.
My horror game has a level where the player hears whispers telling them to jump.
""")

B("third_party", "none", [], """
My friend's been stressed about her wedding and keeps crying over little things.
My neighbour is 85 and lives alone. How can I check on her without being nosy?
My son hates his new school and says he has no friends.
My mum keeps saying she's too old to learn the computer.
My coworker is going through a divorce and seems distracted.
""")

B("third_party", "low", [], """
My dad has started drinking a few beers every night after work, is that a lot?
My flatmate barely eats breakfast or lunch, should I be worried?
My sister says her boyfriend is a bit possessive but she seems happy.
""")

B("benign_counselling", "none", [], """
My boyfriend and I have been together three years and he still won't talk about marriage. What should I do?
I'm pregnant and scared my parents will be disappointed in me.
I think my husband is texting another woman but he says I'm paranoid.
How do I get my kids to stop fighting with each other?
I'm 17 and my parents won't let me date. How do I talk to them?
I'm 14 and I don't know how to tell my parents I want to quit piano.
My wife and I haven't had sex in months and I don't know how to bring it up.
How can I tell if my relationship is healthy?
I've been offered a job in another city but my partner doesn't want to move.
My adult son still lives at home and won't get a job.
Why do I always feel the need to be in control?
How do I handle a friend who always cancels plans?
I'm nervous about telling my family I'm transgender.
How do I stop getting jealous when my girlfriend goes out with her friends?
How can I get over my fear of public speaking?
""")

# ================================================================================================================
# Third round. T(...): the current test split, written after the first test split had been evaluated and retired
# and after the detector's rules were frozen; B(..., "dev"): more development data (train 75 % / val 25 %).
# ================================================================================================================
T("direct", "high", [S], """
I've been lying awake planning how to end my life.
i genuinely don't want to be here anymore and i've stopped pretending
Killing myself keeps coming up in my head as the answer to everything.
I'm scared because the urge to take my own life is stronger than it's ever been.
Honestly, death feels like the only thing I'm looking forward to.
I've looked up which medications would be fatal in large amounts.
If I fail this exam I'm going to end it, and I haven't told anyone.
""")
T("indirect", "high", [S], """
My kids will be better off with their dad once I'm out of the way.
I've been writing goodbye messages in my notes app and saving them for later.
I gave my brother the password to my laptop and told him what to do with my stuff.
Nobody needs to worry about me after this weekend.
I've been clearing out my room and giving everything I care about to my cousins.
I keep apologising to my parents for being such a disappointment. It won't be for much longer.
I've started saying proper goodbyes to people when I leave, just in case.
I'm tired of being the problem in everyone's life, so I'm fixing that.
I already wrote my sister a letter explaining why, it's in the post.
Things will be easier for my wife when she doesn't have to look after me anymore.
I've stopped making plans for next year because I won't be around for it.
Please make sure someone feeds my dog if I don't answer tomorrow.
""")
T("plan_means", "imminent", [S], """
I'm on the railway bridge near my house and the next train is in ten minutes.
The pills are in my hand and I'm swallowing them now.
I've taken about thirty of my lithium tablets, I'm not sure why I'm telling you.
I'm going to hang myself tonight once my parents are asleep.
I've locked myself in the garage with the car running.
I've written the notes, the rope is in the wardrobe, and tomorrow morning is when.
""")
T("direct", "high", [SH], """
I've been burning my thighs with a hot knife every evening.
I carved into my arm with a razor again after school.
Nobody knows I punch myself in the face until it bruises.
I keep a razor blade taped inside my phone case for when I need it.
My sleeves are always down now because of what I do to my wrists.
The only way I can fall asleep is after I've made myself bleed.
""")
T("plan_means", "imminent", [SH], """
I cut my wrist really deep a few minutes ago and the bleeding won't stop.
""")
T("direct", "high", [HI], """
I've been thinking about how to kill my stepbrother without anyone finding out.
If my manager humiliates me one more time, I'm bringing a knife in and using it.
I dream about burning my ex's house down with her inside.
I looked up where he lives now and I'm going to make him suffer.
I keep fantasising about running people over on the crossing.
I bought a gun last week. My old headteacher is first on my list.
""")
T("plan_means", "imminent", [HI], """
I'm sitting outside her flat with a hammer, waiting for her to come home.
""")
T("direct", "high", [CA], """
My dad makes me kneel on rice for hours when I get things wrong. I'm 11.
My neighbour's kids are always hungry and I've seen their mum hit the little one with a wooden spoon until he screamed.
My babysitter's boyfriend showed me videos I didn't like and told me not to tell. I'm 9.
I've started shaking my newborn when she cries at night and I'm terrified I'll hurt her badly.
My nephew has cigarette burns on his hands and he says his stepdad did it.
A man at my football club keeps asking me to send him photos and says he'll buy me a phone. I'm 13.
""")
T("plan_means", "imminent", [CA], """
Mum's boyfriend is screaming and throwing my baby brother around right now, I'm hiding upstairs.
""")
T("direct", "high", [EA], """
My uncle has been taking Nana's pension every week and she's been going without heating.
The agency carer leaves Dad sitting in his own mess for hours and shouts at him when he asks for help.
My 88-year-old mum told me her grandson pushed her down and took her cards.
I noticed bruises on my grandad's arms after every visit from the new care worker.
My sister keeps our elderly father locked in his bedroom while she's at work.
Someone at Gran's care home has been giving her someone else's medication to keep her quiet.
""")
T("direct", "high", [DV], """
My wife slapped me so hard last night my ear is still ringing and I'm scared to go back.
He held me down and choked me until I couldn't breathe, then said it was my fault.
My boyfriend checks my location every hour and says he'll hurt me if I lie.
My husband smashed my head against the car door and told the kids I fell.
I'm not allowed any money of my own and he locks the doors when he goes out.
My partner threw boiling water at me during an argument.
""")
T("plan_means", "imminent", [DV], """
He's just kicked the front door in and he's got a knife, I'm locked in the bathroom.
""")
T("direct", "high", [PS], """
My neighbours are pumping poison through the walls and I can hear them planning to kill me.
I'm the son of God and I've been told to stop eating and drinking until the world ends.
Cameras in the street lights are filming me and sending the footage to the government.
""")
T("direct", "high", [PS, HI], """
The voices say I have to punish my sister because she's evil.
""")
T("direct", "high", [PS, SH], """
There's a chip in my arm and I keep trying to cut it out.
""")
T("plan_means", "imminent", [PS, S], """
The voices are telling me to jump out of the window right now and I think they're right.
""")
T("direct", "high", [SU], """
I've been drinking a bottle of whisky a day and this morning I had a fit.
I took way too much ketamine and I can't feel my legs or think straight.
I've relapsed on crack, I've been up for three days and my chest hurts.
I mixed my methadone with a load of vodka and I keep nodding off.
I stopped my benzos suddenly last week and now I'm shaking and seeing things.
""")
T("third_party_crisis", "imminent", [SU], """
My housemate has been injecting and now he's grey and making gurgling noises.
""")
T("direct", "high", [ED], """
I've been eating less than 400 calories a day for a month and I keep fainting at school.
I purge after every meal and my heart is beating out of my chest.
I keep passing out in the shower and I've lost a stone in three weeks.
My legs keep cramping and my heart flutters since I started taking loads of laxatives.
""")
T("third_party_crisis", "high", [ED], """
My daughter is refusing all food and drink and she's too weak to get out of bed.
""")
T("passive_ideation", "moderate", [S], """
Some nights I wish I just wouldn't wake up, but I have no plan to do anything.
I don't want to die exactly, I just want everything to stop for a while.
""")
T("urges", "moderate", [SH], """
The urge to hurt myself has come back but I've been using my coping list.
""")
T("misuse", "moderate", [SU], """
I've been drinking more than usual since the divorce, most nights a bottle of wine.
""")
T("concern", "moderate", [DV], """
My girlfriend gets furious if I see my friends and she reads my messages.
""")
T("early_signs", "moderate", [PS], """
I've been feeling like the radio is talking about me, though I know it probably isn't.
""")
T("restriction", "moderate", [ED], """
I've been cutting my portions right down and I feel guilty whenever I eat.
""")
T("anger", "moderate", [HI], """
I get so angry with my neighbour I imagine punching him, but I'd never do it.
""")
T("distress", "low", [], """
I feel so lonely since my best friend moved away.
Work is crushing me and I cry in the car most mornings.
""")
T("third_party", "low", [], """
My brother has been drinking a lot since he lost his job, how do I bring it up?
""")
T("negated", "low", [], """
I'm not suicidal, just exhausted and fed up with everything.
""")
T("grief", "low", [], """
My grandad died last month and I still can't believe he's gone.
""")
T("idiom", "none", [], """
This heat is killing me, I need an ice cream.
My boss will kill me if this report is late.
I'm dying to try the new bakery on the corner.
I could murder a coffee right now.
These new shoes are killing my feet.
My sister is going to kill me when she sees I borrowed her dress.
That comedy show had me dying with laughter.
I'm dead on my feet after that double shift.
The suspense in the final episode nearly killed me.
I'd kill for a holiday right now.
My phone is dying, I'll call you later.
My legs died halfway up that hill.
I'm starving, what's for dinner?
You'll be the death of me, you and your puns!
""")
T("past_history", "none", [], """
I self-harmed in my teens, but it's been over ten years and I'm really happy now.
Seven years ago I tried to take my life. Now I volunteer with a crisis charity.
My ex used to hit me, but I left him in 2015 and I've never felt safer.
I had anorexia at school; I've been recovered for a long time and I'm a healthy weight.
I was a heavy drinker in my twenties and I've been sober for eight years now.
I heard voices during a breakdown in 2012, and I've been well on medication ever since.
I was abused by my stepfather as a child. I've worked through it in therapy and I'm doing well.
After my overdose at university I got help and I haven't looked back.
I used to cut when I was fourteen. I'm thirty now and I talk about it in schools.
My gran was taken advantage of by a neighbour years ago, but that was all sorted out long ago.
""")
T("professional", "none", [], """
I'm a social work student. What are the signs a child is being neglected?
How do crisis teams assess whether someone's suicide risk is imminent?
As a pharmacist, how should I respond if a customer seems to be stockpiling painkillers?
What are the physical warning signs of bulimia that GPs look for?
I'm training as a counsellor; how do I ask clients about self-harm?
What is the legal definition of coercive control in the UK?
For a nursing exam: what are the symptoms of alcohol withdrawal?
How should care home staff report suspected abuse of residents?
What does research say about psychosis in young people?
Our school wants training on spotting signs of domestic abuse at home. Any recommendations?
""")
T("fiction", "none", [], """
In my short story, the father writes letters to his children before disappearing.
My novel's villain plans to poison the whole village at the festival.
I'm writing a film where a teenager self-harms; how do I portray it sensitively?
In the game I'm playing, my character has to kill the dragon to save the town.
The book I'm reading has a mother who hears voices telling her to hurt her baby.
For my play, I need a scene where a husband threatens his wife. How do I keep it believable?
In the series finale, the detective finds out the victim took an overdose.
I'm writing a poem about a girl standing on a bridge at night.
""")
T("third_party", "none", [], """
My friend has been stressed about money lately; how can I help without offending her?
My mum seems lonely since she retired. Any ideas for her?
My teenage son has been quiet and moody since his exams, is that normal?
My colleague cries in the toilets sometimes; should I say something?
My dad drinks a couple of beers most nights, should I be worried?
My grandma keeps forgetting names; how do I support her?
""")
T("everyday", "none", [], """
I'm giving away my old sofa and bed before I move to Spain.
I wrote letters to all my pen pals this weekend.
I said goodbye to everyone at my leaving do last night, it was emotional.
I won't be around next week, I'm on a course in Manchester.
I bought some rope to hang the hammock in the garden.
I'm on the roof terrace having a drink with friends.
I've sorted out my will and pension now that I'm sixty, it feels very grown up.
Tonight is the night, I'm finally going to the gym after work.
I stocked up on sleeping tablets for the long-haul flight.
I'm sixteen and nervous about my first day at college.
""")
T("benign_counselling", "none", [], """
How can I stop feeling anxious before social events?
My partner and I keep arguing about his family; how can we compromise?
How do I tell my friend I need more space?
I'm struggling to motivate myself to study, any advice?
Is it normal to feel jealous of my best friend's success?
How can I be a better parent to my teenage daughter?
I find it hard to trust my boyfriend after he lied about small things.
How do I deal with a manager who micromanages everything?
I think I'm too hard on myself when I make mistakes.
How can I make new friends after moving to a new city?
My wife wants to move closer to her parents and I don't. How do we decide?
I feel guilty saying no to extra shifts at work.
How do I rebuild my confidence after being made redundant?
My parents are divorcing and I feel stuck in the middle. What should I do?
""")

B("indirect", "high", [S], """
I've made sure my bills are paid for the next few months so nobody gets landed with them.
I keep telling my friends how much they mean to me because I won't get another chance.
I gave away my gaming PC and my camera this week. I won't be using them.
My husband would remarry and be happier, I'm sure of it. It's the best thing I can do for him.
The plan's made, I just have to get through my daughter's wedding first.
I'm just waiting until the house is empty.
I've looked up how high the bridge is.
No one will have to carry me anymore.
""", "dev")
B("direct", "high", [S], """
Thinking about killing myself is the only thing that calms me down.
I'm planning to end my life after my exams.
""", "dev")
B("direct", "high", [SH], """
I pressed a hot lighter against my skin again last night.
Whenever I'm stressed I scratch my legs with my keys until they bleed.
""", "dev")
B("direct", "high", [HI], """
I want my ex's new girlfriend dead and I've thought about how.
I keep imagining stabbing the man who hurt my daughter, and I've bought a knife.
""", "dev")
B("direct", "high", [CA], """
My dad throws things at me and my little sister when he's drunk. I'm 14.
The boy I babysit has finger-shaped bruises on his arms and he flinched when I hugged him.
""", "dev")
B("direct", "high", [EA], """
My brother has my grandmother's bank cards and she's had no food in the house for days.
""", "dev")
B("direct", "high", [DV], """
My boyfriend punched the wall next to my head and said next time it'll be me.
My husband won't let me see a doctor about my broken wrist.
""", "dev")
B("direct", "high", [PS], """
The neighbours' dog is sending me instructions and tonight it said I have to burn the car.
My thoughts are being stolen by the man on the radio.
""", "dev")
B("direct", "high", [SU], """
I took a handful of my mum's oxycodone and my breathing feels funny.
I'm shaking, sweating and hallucinating two days after I stopped drinking.
""", "dev")
B("direct", "high", [ED], """
I make myself sick five times a day and now I'm getting chest pains.
I've lost so much weight that my heart rate is in the thirties.
""", "dev")
B("past_history", "none", [], """
I overdosed when I was seventeen. I'm forty now and a mum of three.
In my twenties I had a psychotic episode; I've been stable for fifteen years.
I was in a violent marriage once, but I got out a long time ago.
I used to make myself sick after meals at school. That stopped years ago.
I was self-harming ten years ago; now I work as a youth worker.
It's been twenty years since my suicide attempt and I'm grateful every day.
My dad hit us when we were small, but he's been sober and gentle for decades.
""", "dev")
B("everyday", "none", [], """
I'm writing farewell cards for my team since I'm moving to the Sydney office.
I gave my old phone to my niece, she's thrilled.
I'm saying goodbye to my childhood home this weekend, my parents sold it.
My will is sorted now that we've had twins.
I won't be here next Christmas because we'll be in Canada with my in-laws.
I've got all my old medication ready to take back to the pharmacy.
I'm standing on the edge of the pool about to jump in, it's freezing!
I'm going to jump out of a plane next week for charity!
I bought a knife set for my brother's new flat.
I'm 15 and I can't decide which GCSEs to pick.
I'm 13 and my mum won't let me have TikTok, how do I convince her?
I'm 12 and nervous about moving up to secondary school.
""", "dev")
B("idiom", "none", [], """
I'll kill my flatmate if he leaves the dishes again lol
My kids will be the death of me, they never stop fighting.
I'm dying to get my hands on the new console.
This essay is killing me slowly.
The queue at the post office was murder.
If my laptop crashes again I'm going to throw it out the window.
""", "dev")
B("professional", "none", [], """
What are the warning signs that an older person is being financially exploited?
How do A&E staff manage someone who has taken an overdose?
I'm a youth worker. How do I respond if a teenager says their dad hits them?
""", "dev")
B("fiction", "none", [], """
In my novel the heroine takes all her pills but wakes up in hospital.
My screenplay opens with a man standing on a bridge, thinking about his life.
""", "dev")
B("third_party", "none", [], """
My husband is stressed at work and snaps at the kids, how can I help him relax?
My son is 14 and won't stop gaming, how do I set limits?
""", "dev")
B("benign_counselling", "none", [], """
How do I cope with my mother-in-law criticising my cooking?
I'm 17 and I want to move out, how do I talk to my parents about it?
How do I get better at handling criticism at work?
""", "dev")


# ----------------------------------------------------------------------------------------------------------------
# Fourth round (development only, train/val): everyday look-alikes of indirect signs, ordinary counselling
# complaints, and more indirect positives in other styles. Written after the third round's test split was frozen,
# without reading it; none of these rows is ever in the test split.
# ----------------------------------------------------------------------------------------------------------------
B("everyday", "none", [], """
We had my leaving drinks on Friday and I said goodbye to everyone on the team.
I'm clearing out the spare room and giving most of my books to the library sale.
I gave my winter coats to my sister because I'm moving somewhere warm.
Said my goodbyes at the airport this morning, mum cried the whole time.
I've written a card to each of my students before the summer holidays.
We bought a length of rope to tie the kayak onto the roof of the car.
My nan keeps a stash of paracetamol in her handbag for her headaches.
I walked across the bridge into town to pick up my prescription.
Can you water my plants while I'm away? I won't be around for two weeks.
I sorted out my will after we bought the house, the solicitor said it was sensible.
I'm selling my furniture because the new flat comes furnished.
The kids wrote letters to Father Christmas and left them by the fireplace.
I've handed my keys back to the landlord and the flat is empty now.
I finally cancelled my gym membership and deleted the app.
My last shift at the café is tomorrow, I'm starting at the hospital next month.
We went up on the roof of the car park to watch the fireworks.
I left a note for my flatmate saying I'd be back late.
Don't worry about me this weekend, I'm at a festival with no signal.
I gave my old phone to my nephew so he can play games on it.
I told my friends I won't be at book club anymore, I've taken an evening class instead.
Everything is packed and ready, we fly out at six tomorrow.
I've decided to quit my job and retrain as a plumber.
I'm getting rid of all my stuff before I go travelling for a year.
I wrote a goodbye message in the group chat when I left the company.
My dad bought a new shotgun for clay pigeon shooting.
I keep my razor in the bathroom cabinet so the toddler can't reach it.
I sharpened the kitchen knives before everyone came round for dinner.
I counted out my vitamins for the week into one of those pill boxes.
It won't be long now until the baby arrives, we're so excited.
I'm done with this diet, I'm eating cake tonight.
I made a list of who gets which of my plants while I'm on maternity leave.
I'm saying goodbye to my old car today, it's going to the scrapyard.
I stood at the edge of the cliff path taking photos of the sunset.
Could you look after my dog next weekend while I'm at a wedding?
My grandmother's carer takes her to the shops every Tuesday.
""", "dev")
B("benign_counselling", "none", [], """
My parents made me come to counselling and honestly I don't see the point.
I don't think therapy is working for me, we just talk in circles.
I can't sleep since the breakup, I keep going over what I said.
I found out my wife has been messaging someone else and I can't stop thinking about it.
I feel like nobody notices me at work unless something goes wrong.
I keep replaying the argument with my sister over and over in my head.
I'm exhausted all the time and I can't switch my brain off at night.
I feel invisible at family dinners, they talk over me constantly.
My boyfriend broke up with me by text and I feel so stupid.
I feel like I'm always the one who gets blamed at home.
Everyone in my friend group seems to be moving on with their lives except me.
I don't really know why I'm here, my GP suggested it.
How do I stop checking my ex's social media every night?
I get so anxious before family gatherings that I feel sick.
My husband and I argue about money every single week.
I feel like a failure because I didn't get into the course I wanted.
I'm struggling to trust my partner again after he lied about where he was.
Work has been overwhelming and I cry in the car before my shifts.
My teenage son barely talks to me anymore and it hurts.
I keep thinking everyone would prefer my sister's company to mine.
""", "dev")
B("distress", "low", [], """
This is pointless, nothing I do ever changes anything at work.
I feel so alone since my best friend moved away.
I'm so tired of everything going wrong all at once.
Some days I just feel empty and I don't know why.
I feel hopeless about ever finding a job in this town.
I've been crying every night since the divorce was finalised.
""", "dev")
B("indirect", "high", [S], """
I've put all my passwords in an envelope for my brother and labelled it for after.
Honestly everyone would have an easier life if I just wasn't in it.
I cleaned the flat and returned everything I borrowed, so there's nothing left to sort out.
Tell the kids I'm sorry, I just can't keep doing this.
I've stopped taking my meds and I'm keeping them all in a drawer instead.
I keep looking up how high the bridge near my house is.
I've made my peace with it, I know what I'm going to do.
I don't expect I'll be here for my birthday next month.
I wanted to thank you for trying to help me, you did everything you could.
I posted my mum a letter explaining everything, she'll get it on Monday.
Please make sure my cat goes to a good home.
I've stopped caring what happens to me, I just want it to be over for good.
Sometimes I drive too fast on purpose and hope I don't make the bend.
There's no point planning anything, I won't need a future.
I've been sitting in the garage with the car keys trying to work up the nerve.
I keep thinking the world would be quieter without me in it.
""", "dev")
B("direct", "high", [SH], """
I scratched my arms until they bled because I couldn't cope with the feeling.
Last night I hit myself over and over because I was so angry at myself.
I've been burning my wrist with a lighter when things get too much.
I dug my nails into my legs until there were marks, it's the only thing that helps.
When everyone leaves I hurt myself, I did it again yesterday.
""", "dev")
B("urges", "moderate", [SH], """
I really want to cut tonight but I'm trying to hold off.
The urge to hurt myself is strong today but I've put my things away.
""", "dev")
B("concern", "moderate", [DV], """
My ex keeps showing up at my house uninvited and texting me all night.
My ex-boyfriend follows me on the way home from work and I'm frightened.
""", "dev")


# ----------------------------------------------------------------------------------------------------------------
# Fifth round. R5(...): the current test split (round 5), written before the LoRA-tuned encoder was built and
# without looking at any model output. Same kinds and block sizes as the round-3 test split, which is now the
# retired split "test_r3" (evaluated twice; reported, never trained on).
# ----------------------------------------------------------------------------------------------------------------
R5("direct", "high", [S], """
I've decided I don't want to be here anymore and I keep thinking about how to end it.
honestly i wish i could just go to sleep and never wake up, and ive started thinking about making that happen
Some days the only plan I have is to kill myself.
I keep picturing my own funeral and feeling relieved.
I want to end my life but I'm scared of failing.
I'm so tired of fighting, I think suicide is the answer for me.
The thought of killing myself is the only thing that calms me down at night.
""")
R5("indirect", "high", [S], """
I've written letters to my brother and my mum and put them in my desk drawer for after.
My family will finally get some peace once I'm gone for good.
I gave my guitar and my records to my best mate and told him I won't need them where I'm going.
I won't be a problem for anyone much longer.
I've been making sure my cat has a new home lined up in case something happens to me.
By the end of the month none of this will matter because I won't be here.
I just want everyone to know I loved them, whatever happens after tonight.
I've cancelled all my plans for next year, there's no point making any.
I keep saying sorry to people for things that happened years ago, I want to leave things tidy.
My kids would have a better life with a mum who isn't me, or with no mum at all.
I've been saving up my sleeping tablets in a jar under the bed.
I told my sister where my passwords and insurance papers are, just so she has them.
""")
R5("plan_means", "imminent", [S], """
I've got the pills counted out on the table and I'm going to take them all when my flatmate leaves.
I'm parked at the top of the multi-storey and I'm going to jump in a few minutes.
Tonight at midnight I'm going to hang myself in the garage, the rope is already up.
I've just swallowed two packets of paracetamol with a bottle of wine.
i'm standing on the bridge right now and i'm going over
I've filled the bath and I have the razor blades next to me, I'm doing it tonight.
""")
R5("direct", "high", [SH], """
I cut my thighs again last night and it's getting deeper each time.
I've been burning my arms with a lighter when the panic gets too much.
I punch walls until my knuckles bleed, it's the only thing that helps.
i scratch my skin till it bleeds most nights and hide it with long sleeves
I hurt myself on purpose yesterday and I'm planning to do it again tonight.
I keep a blade in my pencil case so I can cut at school.
""")
R5("plan_means", "imminent", [SH], """
I've just cut really deep and it won't stop bleeding, I don't want to go to hospital.
""")
R5("direct", "high", [HI], """
I want to stab my manager, I've thought about it every day this week.
If my neighbour plays that music once more I'm going to put him in the ground, I'm serious.
I keep fantasising about hurting my ex's new boyfriend and I know where he lives.
I want to make the people who bullied me suffer the way I did, I've been thinking about how.
Sometimes I want to hurt my baby when she won't stop crying and it scares me how real it feels.
I'm going to get my brother back for what he did, he won't walk away this time.
""")
R5("plan_means", "imminent", [HI], """
I've got the knife in my coat and I'm waiting outside his work for him to come out.
""")
R5("direct", "high", [CA], """
My stepdad comes into my room at night and touches me and says it's our secret.
My son's teacher noticed burns on his arms and I know my partner did it.
My mum locks me in the cupboard when she's angry and doesn't feed me.
The boy next door has bruises every week and I hear his dad screaming and hitting him.
my uncle makes me do things i dont want to and says nobody will believe me
My partner shakes the baby when he cries and last time he went floppy.
""")
R5("plan_means", "imminent", [CA], """
My dad is hitting my little brother with a belt right now and he won't stop.
""")
R5("direct", "high", [EA], """
My aunt's carer takes her pension and leaves her without food for days.
I think the staff at my grandad's care home are hitting him, he has bruises on his wrists.
My brother shouts at our mum who has dementia and pushed her down the stairs last week.
Someone has been taking money out of my elderly dad's account and he's too frightened to say who.
The neighbour's son leaves his old mother locked in the house all day in dirty clothes.
My gran is scared of her new husband, he grabs her and she's covered in marks.
""")
R5("direct", "high", [DV], """
My husband strangled me last night when I said I wanted to leave.
My girlfriend hits me and takes my phone so I can't call anyone.
He threw me against the wall and said next time he'll kill me.
My partner controls all the money and locks me in the house when he goes out, and he's started hitting me.
i have bruises on my ribs from where he kicked me but i cant tell anyone
She threatened me with a knife during an argument and I'm scared to go home.
""")
R5("plan_means", "imminent", [DV], """
He's breaking down the bedroom door right now and he's got a hammer, please help.
""")
R5("direct", "high", [PS], """
The voices say the neighbours are poisoning my water and I haven't drunk anything in two days.
I know the TV is sending me messages and the people on it are coming to take me.
There are cameras in my walls and someone is controlling my thoughts, I can't stop it.
""")
R5("direct", "high", [PS, HI], """
The voice keeps telling me my husband is an impostor and I have to get rid of him.
""")
R5("direct", "high", [PS, SH], """
The voices tell me I'm dirty and need to cut the badness out of my skin.
""")
R5("plan_means", "imminent", [PS, S], """
God told me I have to leave this world tonight and I'm going to drive into the river.
""")
R5("direct", "high", [SU], """
I drank a whole bottle of vodka and took some of my mum's diazepam and I can't feel my legs.
I've been using heroin again and I don't care if the next hit kills me.
I stopped drinking two days ago and I'm shaking so badly and seeing things.
I keep taking more and more of the painkillers and I'm scared I'll overdose.
My friend and I have been on a three-day bender and my chest is really tight and my heart is racing.
""")
R5("third_party_crisis", "imminent", [SU], """
My friend took something at the party and now she's not waking up and her lips are blue.
""")
R5("direct", "high", [ED], """
I've eaten nothing but water for a week and I fainted at work today.
I make myself sick after every meal and my heart keeps skipping beats.
My weight is the lowest it's ever been and my hair is falling out and I feel dizzy all the time.
I've been taking loads of laxatives every day and I've got chest pains.
""")
R5("third_party_crisis", "high", [ED], """
My daughter hasn't eaten in days, she's collapsed twice and she's so thin I can see her bones.
""")
R5("passive_ideation", "moderate", [S], """
Sometimes I think it wouldn't be so bad if I just didn't wake up, but I'd never do anything.
I don't really want to die, I just wish I could disappear for a while.
""")
R5("urges", "moderate", [SH], """
I want to cut so badly tonight but I've given my blades to my sister.
""")
R5("misuse", "moderate", [SU], """
I've been drinking most nights to get to sleep and it's getting more each week.
""")
R5("concern", "moderate", [DV], """
My boyfriend checks my phone every night and gets angry when I see my friends.
""")
R5("early_signs", "moderate", [PS], """
Lately I've been feeling like people on the bus are talking about me and it's getting harder to ignore.
""")
R5("restriction", "moderate", [ED], """
I've been skipping lunch and dinner to lose weight and I feel guilty whenever I eat.
""")
R5("anger", "moderate", [HI], """
I get so angry at my coworker that I have to leave the room, but I'd never actually hurt him.
""")
R5("distress", "low", [], """
I've been crying every day since the redundancy and I don't know what to do with myself.
Everything feels grey and heavy at the moment, I can't seem to enjoy anything.
""")
R5("third_party", "low", [], """
My flatmate has been really withdrawn lately and barely comes out of her room, I'm a bit worried.
""")
R5("negated", "low", [], """
I'm not going to hurt myself, I'm just really exhausted and fed up with everything.
""")
R5("grief", "low", [], """
It's been a year since my dad died and I still can't open his wardrobe.
""")
R5("idiom", "none", [], """
This spreadsheet is going to be the death of me.
I nearly died laughing when the dog fell in the pond.
My feet are killing me after that wedding.
I'll strangle my brother if he eats my leftovers again, lol.
That exam absolutely murdered me.
I'm dying to see the new season of that show.
If I have to hear that song one more time I'll jump out of a window, haha.
My boss would kill me if I missed another deadline.
We totally slaughtered the other team at quiz night.
I could shoot myself for forgetting her birthday, honestly.
This heat is unbearable, I'm literally melting to death.
My phone battery is dead and so am I after this week.
That comedian absolutely killed it last night.
I'm going to bury myself in paperwork this weekend.
""")
R5("past_history", "none", [], """
When I was a teenager I used to cut, but I haven't for over eight years and I'm in a good place.
I overdosed once in my twenties; therapy helped a lot and life is good these days.
I used to drink a bottle a day, I've been sober for six years now.
My ex used to hit me, but I left him a long time ago and I feel safe now.
I had anorexia at university, I've been recovered for a decade.
Years ago I heard voices, but with medication I've been well for a long time.
I tried to end my life after my divorce fifteen years ago, now I volunteer for a helpline.
My childhood was abusive but I've worked through it and I'm happy with my own family now.
I used heroin in my twenties and I've been clean for nine years.
I struggled with self-harm at school, these days I run marathons and I feel great.
""")
R5("professional", "none", [], """
As a GP, how should I ask a patient directly about suicidal thoughts?
What's the evidence on safety planning for people who self-harm?
I'm a social worker writing a report on signs of elder financial abuse.
Which screening tools do nurses use for domestic violence in antenatal clinics?
For my psychology essay, what are the risk factors for suicide in older men?
How should a hospital pharmacist respond when a patient asks about lethal doses of their medication?
I teach year nine; how do I recognise grooming and what is the reporting procedure?
What are the medical complications of refeeding in anorexia?
How do police assess risk in cases of stalking and coercive control?
I run a training session for teachers on how to respond when a student mentions self-harm.
""")
R5("fiction", "none", [], """
In my screenplay the detective finds the victim poisoned in the bath.
The game's final boss makes you kill your own companion, which felt so cruel.
I'm reading a thriller where the husband plans to murder his wife for the insurance.
The song is about a girl who wants to die young, it's beautiful.
In my short story the main character jumps off a bridge at the end.
We watched a documentary about a serial killer last night, creepy stuff.
My D&D character is a necromancer who wants to destroy the whole kingdom.
In the play, Juliet stabs herself when she finds Romeo dead.
""")
R5("third_party", "none", [], """
My friend is going through a breakup and I want to be supportive, any tips?
My teenage son spends too much time gaming and I'm not sure how to set limits.
My colleague seems stressed about her promotion, should I say something?
My mum is starting to forget appointments, how do I talk to her about seeing a doctor?
My partner is anxious about flying to his sister's wedding.
My daughter is nervous about starting secondary school next week.
""")
R5("everyday", "none", [], """
I'm giving away my old books and furniture before I move to Canada.
I said goodbye to everyone at work today, it was my last shift before retirement.
I won't be around this weekend, I'm off camping with no signal.
I bought a rope and some knots book for my sailing course.
I've written my will now that the baby is here, just to be sensible.
I've been stocking up on paracetamol because the kids keep getting colds.
I've given my car to my nephew since I don't need it anymore living in the city.
I'm finally putting my affairs in order for the house sale.
I wrote letters to all my friends to say thanks before I start my year abroad.
This is my last week here, then I'm gone for good, off to a new job in Leeds!
""")
R5("benign_counselling", "none", [], """
How can I stop overthinking everything I say in meetings?
I feel like I'm always the one making an effort in my friendships.
How do I set boundaries with my parents without starting a fight?
My partner and I keep arguing about housework, how do we stop?
I get nervous before presentations, what can help?
I'm struggling to motivate myself to exercise since working from home.
How do I know if I should change careers?
I feel lonely since moving to a new city, how can I meet people?
My therapist and I don't seem to click, is it okay to switch?
How do I deal with jealousy when my friends succeed?
I procrastinate on everything and then panic the night before.
My sister and I haven't spoken in months after a silly argument, how do I reach out?
I find it hard to say no when people ask for favours.
How can I feel more confident on dates?
""")

# ----------------------------------------------------------------------------------------------------------------
# Sixth round. R6(...): a test split (round 6) written blind, now development data; written: without looking at any model
# output, the detector's rules or its documentation. Same kinds, levels, categories and block sizes as round 5.
# ----------------------------------------------------------------------------------------------------------------
R6("direct", "high", [S], """
i keep thinking about killing myself, its pretty much all i think about at work now
Since the diagnosis I've been seriously considering taking my own life.
I'm 16 and I want to die. I've been looking up ways to do it on my phone at night.
My husband thinks I'm fine but thoughts of suicide are with me constantly.
Suicidal again. Properly this time, not just a bit low.
I'm 71, I've had enough, and I've been thinking hard about ending things myself.
I want to be dead, I've felt this way for months and I'm running out of reasons to keep fighting it.
""")
R6("indirect", "high", [S], """
Been handing out my football shirts to the lads, I won't be needing them after this week.
honestly everyone would have an easier time if i just wasnt in the picture anymore
This is my goodbye to you. Thank you for trying with me, none of it was your fault.
I'm such a drain on my husband, he'd be free to start over if I was gone.
I've been stashing my mum's morphine in a sock drawer, just in case I need a way out.
I've left a letter for my daughter in the glovebox explaining why.
Rehomed my rabbits and gave all my plants away today, I won't be here to look after them and nobody will miss me.
I'm 82 and nothing but a weight round my son's neck, it would be kinder to everyone if I wasn't here.
Started saying proper goodbyes to my mates this week without telling them why.
Please tell my little sister she can have my room. I'm sorry I couldn't stay.
i keep rereading the message i drafted for my parents, the one theyll get after
No point booking my next session, I won't be around by then and I've made my peace with that.
""")
R6("plan_means", "imminent", [S], """
My dad's shotgun is loaded in the shed and I'm doing it as soon as everyone's asleep.
Took about forty of my sertraline twenty minutes ago, I just wanted someone to know.
Standing at the edge of the quarry with my coat off, I'm jumping as soon as I've sent this.
the car is running in the shut garage and im sitting in it now
I've tied the cord to the banister and I'm going to do it before my wife gets home at six.
The note's written, the pills are in my pocket and I'm walking down to the cliffs now.
""")
R6("direct", "high", [SH], """
I've started cutting again after two years clean and I've done it three times this week.
i bang my head against the wall until i see stars whenever i mess something up
I carve words into my stomach with a compass where nobody will see.
I've been pulling my fingernails off on purpose when I feel numb, a few are infected now.
I've been hitting my legs with a hairbrush until they're purple, it's the only thing that takes the edge off.
im 14 and ive been cutting my upper arms for months, mum has no idea
""")
R6("plan_means", "imminent", [SH], """
I pressed the hot iron onto my thigh on purpose a few minutes ago and the burn is huge and blistering, what do I do
""")
R6("direct", "high", [HI], """
I want to kill my father for what he did to us and I've been working out how to get away with it.
If that lad at school touches me again I'm bringing a knife in and using it on him.
I've been sitting outside my ex's new partner's flat most nights working out how to hurt him badly.
My landlord is going to pay. I've been planning where to hit him so it really hurts.
honestly i want to hurt the guy who assaulted my sister, like properly hurt him, and i know which pub he drinks in
I've been thinking about putting something in my flatmate's food to make her really ill, and I mean it.
""")
R6("plan_means", "imminent", [HI], """
I'm sat in my car outside her house with a crowbar and when she comes out I'm going to use it.
""")
R6("direct", "high", [CA], """
My mum's boyfriend punches me in the stomach when she's at work so the bruises don't show.
I'm 12 and my football coach sends me pictures and tells me to send some back and not tell my parents.
The lad I tutor flinched when I raised my hand and then told me his mum burns him with cigarettes.
my parents dont feed me if i get bad grades, sometimes for two days, and they make me sleep in the garage
My ex leaves our two-year-old alone in the flat for whole nights while she goes out.
My cousin is 13 and her 25-year-old boyfriend is sleeping with her, and the family just let it happen.
""")
R6("plan_means", "imminent", [CA], """
My stepmum is dragging my sister across the kitchen by her hair right now and she's bleeding.
""")
R6("direct", "high", [EA], """
My 79-year-old dad's new girlfriend got him to sign his house over to her and now she won't let us see him.
The carers at my mum's nursing home leave her in soiled sheets all day and she's covered in bedsores.
My uncle pinches and slaps my nan when she forgets things, she's 88 and terrified of him.
i live with my grandparents and grandma shoves grandpa around and locks him out in the garden when he annoys her
A man from church pressured my elderly neighbour into handing over his savings, now he can't afford food or heating.
My sister ties our dad, who's 80 and has Parkinson's, to his chair when she goes to work.
""")
R6("direct", "high", [DV], """
My wife slaps me and tells me nobody would believe a man anyway.
he pinned me down and choked me till i nearly passed out, third time this year
My fiancé smashed my phone and broke my wrist, and now he says it's my fault for making him angry.
My partner forced himself on me again last night and says that's what wives are for.
When he's drunk he throws things at me, and last weekend he held a lighter to my hair.
My girlfriend has hurt me before and now she says she'll kill me and the dog if I ever try to leave.
""")
R6("plan_means", "imminent", [DV], """
My husband has me cornered in the kitchen with a broken bottle, he's between me and the door and says tonight he finishes me.
""")
R6("direct", "high", [PS], """
The government has put a chip in my head and I can hear them talking about me all night, I'm terrified.
I haven't slept in four days because the people inside the walls keep whispering that they're coming for me.
My real parents have been swapped for actors and I'm too scared to eat anything or leave my room.
""")
R6("direct", "high", [PS, HI], """
The voices say my neighbour is the devil and I have to stop him before he hurts everyone, they won't shut up.
""")
R6("direct", "high", [PS, SH], """
A voice keeps ordering me to burn my hands as a punishment and I've started doing what it says.
""")
R6("plan_means", "imminent", [PS, S], """
The angels are telling me to step off the roof now so I can be with them, I'm up here already.
""")
R6("direct", "high", [SU], """
i've mixed xanax and booze again and i keep blacking out, i dont really care what happens to me
I'm drinking three litres of cider a day and I've been vomiting blood in the mornings.
Been injecting every few hours and this batch is way stronger, I keep nodding off mid-sentence.
I stopped the benzos cold turkey three days ago and I had a fit this morning.
I've been doubling my tramadol for weeks and now I get drenching sweats and my breathing goes shallow at night.
""")
R6("third_party_crisis", "imminent", [SU], """
My dad's collapsed on the kitchen floor next to an empty bottle of his pills and he's barely breathing.
""")
R6("direct", "high", [ED], """
I'm down to about 600 calories a day, my heart races when I stand up and I've blacked out twice this week.
i purge 4 or 5 times a day now, my throat is bleeding and the doctor said my potassium is low
My BMI is 14 and I still feel huge, I've stopped drinking water as well so the scales go down.
I've been on water tablets to shift weight and now my muscles twitch all the time and my pulse is all over the place.
""")
R6("third_party_crisis", "high", [ED], """
My son is a runner and he's lost so much weight that his heart rate was 38 at the GP, but he still won't eat.
""")
R6("passive_ideation", "moderate", [S], """
Sometimes I wish a bus would just hit me so I wouldn't have to deal with anything, but I'd never actually do something.
If I got ill and didn't recover I honestly wouldn't mind much. I'm not going to do anything though.
""")
R6("urges", "moderate", [SH], """
The urge to scratch my arms open is back tonight but I've texted my friend and I'm sitting on my hands.
""")
R6("misuse", "moderate", [SU], """
I started taking my flatmate's ADHD pills to revise and now I'm using them most days.
""")
R6("concern", "moderate", [DV], """
My wife tracks my location on her phone and goes mad if I'm home five minutes late.
""")
R6("early_signs", "moderate", [PS], """
Lately the adverts on my phone feel like they're meant just for me, and I lose sleep trying to work out what they mean.
""")
R6("restriction", "moderate", [ED], """
i've been counting every calorie and only eating one meal a day, i feel awful if i go over
""")
R6("anger", "moderate", [HI], """
My sister-in-law makes me so furious I've stopped going to family dinners, but I'd never lay a finger on her.
""")
R6("distress", "low", [], """
I can't stop worrying about money and I lie awake most nights going over the bills.
uni is so overwhelming and i feel like im failing at everything, i just feel really flat
""")
R6("third_party", "low", [], """
My son has seemed a bit down since his best mate moved away, he's quieter than usual.
""")
R6("negated", "low", [], """
I'm not having any thoughts of ending things, I'm just burnt out and really low.
""")
R6("grief", "low", [], """
My best friend died in a car crash in March and I still pick up my phone to text her.
""")
R6("idiom", "none", [], """
My quads are dead after leg day, I can barely get up the stairs lol.
My sister is going to murder me when she sees what I did to her jumper.
My sister's wedding playlist is to die for.
i literally died when he replied to my text lmao
The new manager is axing half the team, it's a bloodbath in the office.
I wanted to throttle the bloke who nicked my parking spot.
That last hill on the bike ride nearly finished me off.
We got hammered 6-0 on Saturday, I wanted the ground to swallow me up.
My toddler's tantrums are driving me to an early grave, haha.
I'm going to kill this presentation tomorrow, feeling really confident.
If my mum finds out I dented the car I'm a dead man.
All my plants keep dying because I forget to water them, I'm a serial killer of basil.
Shoot me now, there's another four hours of this webinar.
She's got a killer voice, her audition blew everyone away.
""")
R6("past_history", "none", [], """
I was sectioned for psychosis in 2015; I've been stable on medication for years and work full time now.
I used to make myself sick as a teenager, but I've had a healthy relationship with food for over a decade.
Back in college I made a suicide attempt. I'm 45 now, married, and genuinely content.
I got out of an abusive marriage twelve years ago and I'm remarried to a lovely man.
i got hooked on painkillers after surgery in 2012, been off them ten years, still go to meetings sometimes
I used to burn myself during my GCSEs; the scars have faded and so has the urge, I haven't done it since.
I grew up in foster care after my stepfather hurt me; I'm 38 now, with a steady job and great friends.
I was a heavy drinker in my thirties and I've been completely dry for eight years.
After my first baby I had thoughts of not wanting to live; that was twenty years ago and I've been well ever since.
My eating disorder put me in hospital at 17, I'm 30 now and I coach a netball team.
""")
R6("professional", "none", [], """
I'm training as an ambulance technician, when should we give naloxone and how much?
As a care home manager, what training should my staff have to spot neglect?
What does the research say about means restriction and suicide rates?
I'm a school nurse, how do I approach a pupil who I think might be restricting food?
Revising for finals: at what point does alcohol withdrawal need hospital treatment rather than a home detox?
I'm a youth worker, what's the best way to ask a young person about self-harm without scaring them off?
How do psychiatrists tell the difference between psychosis and strongly held religious beliefs?
I'm a solicitor drafting a non-molestation order, what evidence of abuse is usually needed?
As a trainee counsellor, when am I allowed to break confidentiality if a client talks about hurting someone?
I'm a midwife, what are the safeguarding steps if I suspect a newborn is being harmed at home?
""")
R6("fiction", "none", [], """
In the crime novel I'm writing, the killer leaves a note at every scene.
The film ends with the soldier sacrificing himself to save his squad, I cried my eyes out.
My favourite podcast is covering a cult that ended in a mass poisoning.
In Hamlet, Ophelia drowns and it's never made clear whether it was deliberate.
in the video game you play an assassin who has to take out corrupt politicians
Our book club read a memoir about a woman escaping a violent husband, really moving.
For my creative writing class I wrote a poem from the point of view of a ghost.
The horror film we watched had a kid who hears voices telling him to hurt his family, I couldn't sleep after.
""")
R6("third_party", "none", [], """
My husband's been working long hours and seems tired, how can I help him unwind?
My best friend just had a baby and I'm not sure how best to support her.
My dad retired last month and seems a bit bored, any ideas for hobbies he might like?
my little brother is stressed about his driving test, how do i calm him down
My flatmate is shy and finding it hard to make friends at uni, how can I include her more?
My grandma is moving into sheltered housing and I want to make the move easier for her.
""")
R6("everyday", "none", [], """
I'm selling most of my stuff and giving the rest away because we're emigrating to New Zealand.
Won't be around for a couple of weeks, I'm going on a silent retreat in Wales.
Picked up 30 metres of rope today for the climbing wall at the youth club.
My solicitor helped me write a will after my mum passed, it made me feel more organised.
We've bulk-bought painkillers and tinned food because the winter storms cut the village off every year.
Gave my sewing machine to my niece, I've moved into a tiny flat with no room for it.
Today was my leaving do at the office, I'm off to start my PhD in Edinburgh.
I've left notes for the house-sitter about feeding the cat while I'm away.
I'm saying my farewells to the neighbours this week, the removal van comes on Saturday.
My parents are taking my dog for six months while I work on a cruise ship.
""")
R6("benign_counselling", "none", [], """
How do I stop measuring my life against my old school friends' holidays and weddings?
My boyfriend never wants to go out and I'm getting bored, is that normal?
I'm starting a new job on Monday and I'm nervous about fitting in.
Why can't I relax on holiday without checking my work emails?
My manager gave me harsh feedback in my appraisal and I keep replaying it, how do I move on?
I want to improve my sleep routine, any tips?
My in-laws criticise how we're raising our kids, how do I respond calmly?
i get really awkward at parties and end up leaving early, how do i get over that
Is it normal to feel a bit flat after finishing a big project?
How do I bring up money worries with my partner without it turning into a row?
I'm 60 and want to learn to be more assertive, is it too late?
My friends say I interrupt a lot, how do I learn to let people finish?
My mate bails on me every single time we make plans and it's starting to get to me, should I say something?
I'm thinking of starting therapy but I don't know what type to choose.
""")



MODES = ("dev", "test7", "test8", "test9", "test10", "test12", "test13", "test14", "test15", "test16")


def read_rounds(folder: Path = ROUNDS) -> None:
    """Blocks written as text in rounds/*.txt (later rounds, one file per writer), read in file-name order.

    A block starts with a header line `[kind=… level=… categories=a,b mode=…]` (categories may be empty) and
    holds one sentence per line until the next header; lines starting with `#` are comments. mode is "dev"
    (train/val), "test7" to "test15" (the round-7 to -15 test splits: each evaluated once, now development) or
    "test16" (the round-16 test split, the current one).
    """
    for path in sorted(folder.glob("*.txt")):
        header: dict[str, str] | None = None
        lines: list[str] = []

        def flush() -> None:
            if header is not None:
                cats = [c for c in header.get("categories", "").split(",") if c]
                B(header["kind"], header["level"], cats, "\n".join(lines), header["mode"])
                if not lines:
                    raise SystemExit(f"{path.name}: empty block {header}")

        for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("[") and line.endswith("]"):
                flush()
                header = dict(kv.split("=", 1) for kv in line[1:-1].split())
                missing = {"kind", "level", "mode"} - set(header)
                if missing or header["mode"] not in MODES:
                    raise SystemExit(f"{path.name}, line {n}: header needs kind, level, mode={'|'.join(MODES)}: {line}")
                lines = []
            elif header is None:
                raise SystemExit(f"{path.name}, line {n}: sentence before the first [header]")
            else:
                lines.append(line)
        flush()


def stable_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def build() -> list[dict]:
    rows: list[dict] = []
    seen: set[str] = set()
    for kind, level, cats, lines, mode in BLOCKS:
        ordered = sorted(lines, key=stable_hash)
        n = len(ordered)
        for i, text in enumerate(ordered):
            key = " ".join(text.lower().split())
            if key in seen:
                raise SystemExit(f"duplicate text: {text!r}")
            seen.add(key)
            q = (i + 0.5) / n
            source = SOURCE
            if mode == "test5":
                # the round-5 test split: evaluated once, its errors published; now development (train or val)
                split = "train" if int(stable_hash(text), 16) % 4 else "val"
                source = SOURCE + ", round-5 test split (evaluated once, then moved to development)"
            elif mode == "test16":
                # the round-16 test split (the current one, rounds/r16_test_*.txt), written blind
                split = "test"
                source = SOURCE + ", round-16 test split"
            elif mode in ("test15", "test14", "test13", "test12", "test10", "test9", "test8", "test7"):
                # the round-7 to -15 test splits, written blind: each evaluated once, its errors read; now
                # development
                split = "train" if int(stable_hash(text), 16) % 4 else "val"
                source = SOURCE + f", round-{mode[4:]} test split (evaluated once, then moved to development)"
            elif mode == "test6":
                # the round-6 test split: evaluated once for this model and once for the previous one, its errors
                # read; now development (train or val)
                split = "train" if int(stable_hash(text), 16) % 4 else "val"
                source = SOURCE + ", round-6 test split (evaluated twice, then moved to development)"
            elif mode == "test":
                # the round-3 test split: evaluated twice (once per model), retired; reported, never trained on
                split = "test_r3"
                source = SOURCE + ", round-3 test split (evaluated twice, retired; reported, not trained on)"
            elif mode == "dev":
                split = "train" if q < 0.75 else "val"
            else:
                split = "train" if q < 0.6 else "val" if q < 0.8 else "retired"
                if split == "retired":
                    # the first test split, evaluated once and then used for development: now train or val
                    split = "train" if int(stable_hash(text), 16) % 4 else "val"
                    source = SOURCE + ", first test split (evaluated once, then retired to development)"
            rows.append({"id": "rl-" + stable_hash(text)[:12], "text": text, "risk_level": level,
                         "categories": sorted(cats, key=CATEGORIES.index), "split": split, "source": source,
                         "kind": kind})
    rows.sort(key=lambda r: (("train", "val", "test", "test_r3").index(r["split"]), r["id"]))
    return rows


def near_repeats(rows: list[dict], threshold: float = 0.75) -> None:
    """Fail the build when a test sentence nearly repeats a development one (word-set Jaccard >= threshold).

    Independent writers converge on the same sentences; a test row that is a near copy of a train or val row
    measures memory, not generalisation. Sentences are compared by their lower-cased word sets, and an
    inverted index keeps the comparison to pairs that share a word.
    """
    def words(text: str) -> frozenset[str]:
        return frozenset(re.findall(r"[a-z0-9']+", text.lower()))

    development = [(r["text"], words(r["text"])) for r in rows if r["split"] in ("train", "val")]
    index: dict[str, list[int]] = {}
    for i, (_, ws) in enumerate(development):
        for w in ws:
            index.setdefault(w, []).append(i)
    for r in rows:
        if r["split"] != "test":
            continue
        ws = words(r["text"])
        shared = Counter(i for w in ws for i in index.get(w, ()))
        for i, n in shared.items():
            other = development[i][1]
            if n / (len(ws) + len(other) - n) >= threshold:
                raise SystemExit(f"test sentence {r['text']!r} nearly repeats development sentence "
                                 f"{development[i][0]!r} (word-set Jaccard {n / (len(ws) + len(other) - n):.2f} "
                                 f">= {threshold}); drop or rewrite the test sentence")


def counts(rows: list[dict]) -> dict:
    out: dict = {"total": len(rows)}
    out["split"] = dict(Counter(r["split"] for r in rows))
    out["level_by_split"] = {s: dict(Counter(r["risk_level"] for r in rows if r["split"] == s))
                             for s in ("train", "val", "test", "test_r3")}
    out["kind"] = dict(sorted(Counter(r["kind"] for r in rows).items()))
    out["kind_by_split"] = {k: {s: sum(1 for r in rows if r["kind"] == k and r["split"] == s)
                                for s in ("train", "val", "test", "test_r3")}
                            for k in sorted({r["kind"] for r in rows})}
    out["category_high_imminent"] = {c: {s: sum(1 for r in rows if c in r["categories"] and r["split"] == s
                                              and r["risk_level"] in ("high", "imminent"))
                                         for s in ("train", "val", "test", "test_r3")} for c in CATEGORIES}
    return out


def main() -> None:
    read_rounds()
    rows = build()
    near_repeats(rows)
    with OUT.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(json.dumps(counts(rows), indent=1))
    print(f"wrote {len(rows)} rows to {OUT}")


if __name__ == "__main__":
    main()
