"""Built-in training text for the fixture zoo: original, procedural, English and Korean.

Copyright the fromscratch authors; Apache-2.0, part of the project. Every word
list, template and paragraph below was written for this project. Text is
generated from a seeded ``random.Random`` so the same call always yields the
same string, with no download and no third-party data set.

Three parts: ``"general"`` (pre-training), ``"finetune"`` (a different register:
instructions, questions and answers, used for the fine-tuned and
continued-pre-training variants) and ``"captions"`` (the toy image-text task).
"""

from __future__ import annotations

import random
import re

# --------------------------------------------------------------------- English lists

_EN_NAMES = ["Mina", "Joon", "Ara", "Tomas", "Lena", "Hyun", "Priya", "Omar", "Sora", "Felix",
             "Yuna", "Dario", "Nadia", "Ivo", "Rhea", "Kenji", "Alba", "Seo", "Bruno", "Ines"]
_EN_ANIMALS = ["cat", "dog", "heron", "fox", "otter", "crow", "deer", "badger", "goat", "sparrow",
               "whale", "turtle", "rabbit", "owl", "horse", "squirrel"]
_EN_PLACES = ["harbour", "market", "library", "valley", "station", "garden", "island", "bridge",
              "village", "workshop", "forest", "river bank", "museum", "kitchen", "school", "hill"]
_EN_OBJECTS = ["lantern", "map", "kettle", "bicycle", "notebook", "violin", "basket", "compass",
               "umbrella", "letter", "clock", "ladder", "boat", "drum", "mirror", "blanket"]
_EN_ADJ = ["quiet", "bright", "old", "narrow", "warm", "crowded", "small", "green", "windy",
           "careful", "patient", "curious", "tired", "cheerful", "silver", "heavy"]
_EN_VERBS_PAST = ["found", "carried", "painted", "repaired", "borrowed", "watched", "opened",
                  "lost", "cleaned", "described", "measured", "sold", "planted", "counted"]
_EN_TIMES = ["in the morning", "after lunch", "at dusk", "before the rain", "on Sunday",
             "late at night", "during the festival", "in early spring", "at noon", "in winter"]
_EN_WEATHER = ["rain", "snow", "fog", "a cold wind", "sunshine", "a storm", "mist", "hail"]
_EN_NUMBERS = ["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twelve"]
_EN_TEMPLATES = [
    "{name} {verb} a {adj} {obj} near the {place} {time}.",
    "The {animal} walked to the {place} and waited for {name}.",
    "{time_c}, {name} saw {num} {animal}s by the {place}.",
    "There was {weather} over the {place}, so {name} stayed inside with the {obj}.",
    "A {adj} {animal} sat on the {obj} while {name} read a book.",
    "{name} said that the {place} is {adj} {time}.",
    "If the {obj} is {adj}, {name} will take it to the {place}.",
    "Nobody knew why the {animal} {verb} the {obj}.",
    "{name} and {name2} {verb} {num} {obj}s at the {place}.",
    "The {place} was {adj}, and the {animal}s were {adj2}.",
    "When {weather} came, the {animal} hid under the {obj}.",
    "{name} wrote a letter about the {adj} {place}.",
]

# --------------------------------------------------------------------- Korean lists

_KO_NAMES = ["민아", "준호", "아라", "서연", "지훈", "하늘", "유나", "도윤", "소라", "태오",
             "지우", "현수", "나래", "은호", "다인", "세빈"]
_KO_ANIMALS = ["고양이", "강아지", "여우", "수달", "까마귀", "사슴", "토끼", "부엉이", "거북이",
               "다람쥐", "고래", "참새", "염소", "말"]
_KO_PLACES = ["항구", "시장", "도서관", "골짜기", "기차역", "정원", "섬", "다리", "마을", "공방",
              "숲", "강가", "박물관", "부엌", "학교", "언덕"]
_KO_OBJECTS = ["등불", "지도", "주전자", "자전거", "공책", "바이올린", "바구니", "나침반", "우산",
               "편지", "시계", "사다리", "배", "북", "거울", "담요"]
_KO_ADJ = ["조용한", "밝은", "오래된", "좁은", "따뜻한", "붐비는", "작은", "푸른", "바람 부는",
           "조심스러운", "참을성 있는", "호기심 많은", "지친", "명랑한", "무거운"]
_KO_VERBS = ["찾았다", "옮겼다", "칠했다", "고쳤다", "빌렸다", "바라보았다", "열었다", "잃어버렸다",
             "닦았다", "설명했다", "재었다", "팔았다", "심었다", "세었다"]
_KO_TIMES = ["아침에", "점심 후에", "해 질 무렵에", "비가 오기 전에", "일요일에", "늦은 밤에",
             "축제 동안", "이른 봄에", "정오에", "겨울에"]
_KO_WEATHER = ["비가", "눈이", "안개가", "찬 바람이", "햇살이", "폭풍이", "우박이"]
_KO_NUMBERS = ["두", "세", "네", "다섯", "여섯", "일곱", "여덟", "아홉", "열"]
_KO_TEMPLATES = [
    "{name}(는) {time} {place} 근처에서 {adj} {obj}(를) {verb}.",
    "{animal}(는) {place}(으로) 걸어가서 {name}(를) 기다렸다.",
    "{time} {name}(는) {place} 옆에서 {animal} {num} 마리를 보았다.",
    "{place}에 {weather} 내려서 {name}(는) {obj}(와) 함께 집에 있었다.",
    "{adj} {animal}(가) {obj} 위에 앉아 있는 동안 {name}(는) 책을 읽었다.",
    "{name}(는) {place}(가) {time} {adj} 곳이라고 말했다.",
    "{obj}(가) {adj} 것이면 {name}(는) 그것을 {place}(으로) 가져갈 것이다.",
    "아무도 {animal}(가) 왜 {obj}(를) 가져갔는지 몰랐다.",
    "{name}(와) {name2}(는) {place}에서 {obj} {num} 개를 {verb}.",
    "{weather} 오자 {animal}(는) {obj} 아래에 숨었다.",
    "{name}(는) {adj} {place}에 대한 편지를 썼다.",
]

# --------------------------------------------------------------------- paragraphs

_PARAGRAPHS = [
    "The lighthouse keeper counted the ships every evening. Most nights there were "
    "three, sometimes four, and once, during a storm that lasted a week, there were none "
    "at all. He wrote the numbers in a green notebook and never missed a day.",
    "A small bakery opened at the corner of the market. The baker rose before the sun, "
    "folded the dough by hand and sold warm bread to the fishermen on their way to the "
    "harbour. By noon the shelves were empty.",
    "Rivers carry sand from the mountains to the sea. Over many years the sand builds "
    "wide flat banks where reeds grow and herons hunt for small fish in the shallow water.",
    "The orchestra practised in an old school hall. The violins were always a little too "
    "fast, the drums a little too loud, and the conductor smiled patiently at both.",
    "등대지기는 매일 저녁 배를 세었다. 대부분의 밤에는 세 척이었고 가끔은 네 척이었다. "
    "일주일 동안 폭풍이 불던 때에는 한 척도 없었다. 그는 숫자를 초록색 공책에 적었다.",
    "시장 모퉁이에 작은 빵집이 문을 열었다. 제빵사는 해가 뜨기 전에 일어나 반죽을 손으로 "
    "접었고, 항구로 가는 어부들에게 따뜻한 빵을 팔았다. 정오가 되면 선반은 비어 있었다.",
    "강은 산에서 바다로 모래를 나른다. 오랜 세월 동안 모래는 넓고 평평한 둔치를 만들고, "
    "그곳에는 갈대가 자라고 왜가리가 얕은 물에서 작은 물고기를 잡는다.",
    "오케스트라는 오래된 학교 강당에서 연습했다. 바이올린은 늘 조금 빨랐고 북은 조금 "
    "시끄러웠지만 지휘자는 참을성 있게 웃었다.",
]

# --------------------------------------------------------------------- fine-tune register

_FT_EN = [
    "Question: Where did {name} leave the {obj}? Answer: {name} left the {obj} at the {place}.",
    "Instruction: Describe the {place}. Response: The {place} is {adj} and full of {animal}s.",
    "Question: How many {animal}s were there? Answer: There were {num} {animal}s.",
    "Instruction: Write one sentence about a {obj}. Response: The {obj} was {adj} and {adj2}.",
    "Question: What happened {time}? Answer: {name} {verb} the {obj}.",
]
_FT_KO = [
    "질문: {name}(는) {obj}(를) 어디에 두었나요? 답변: {name}(는) {obj}(를) {place}에 두었습니다.",
    "지시: {place}(를) 설명하세요. 응답: {place}(는) {adj} 곳이고 {animal}(가) 많습니다.",
    "질문: {animal}(는) 몇 마리였나요? 답변: {animal}(는) {num} 마리였습니다.",
    "지시: {obj}에 대해 한 문장을 쓰세요. 응답: 그 {obj}(는) {adj} 물건이었습니다.",
]

# --------------------------------------------------------------------- captions

#: class index -> (English word, Korean word) for the toy image-text task.
CAPTION_CLASSES = [("red", "빨강"), ("green", "초록"), ("blue", "파랑"), ("stripes", "줄무늬"),
                   ("dots", "점무늬"), ("dark", "어둠"), ("bright", "밝음"), ("checks", "체크")]


def caption(cls: int, rng: random.Random) -> str:
    """A caption whose content word is fixed by the image class."""
    en, ko = CAPTION_CLASSES[cls]
    forms = [f"a picture of {en} .", f"this image shows {en} .", f"{ko} 그림 .",
             f"the pattern is {en} .", f"이 그림은 {ko} 이다 ."]
    return rng.choice(forms)


_PARTICLES = {"는": ("은", "는"), "가": ("이", "가"), "를": ("을", "를"), "와": ("과", "와"),
              "으로": ("으로", "로")}
_PARTICLE_RE = re.compile(r"(.)\((는|가|를|와|으로)\)")


def _josa(m: re.Match) -> str:
    """Pick the Korean particle form that fits the preceding syllable's final consonant."""
    ch, p = m.group(1), m.group(2)
    code = ord(ch) - 0xAC00
    final = code % 28 if 0 <= code < 11172 else 0
    with_final, without = _PARTICLES[p]
    if p == "으로" and final == 8:  # final ㄹ takes 로
        return ch + without
    return ch + (with_final if final else without)


def _fill(template: str, rng: random.Random, ko: bool) -> str:
    if ko:
        v = dict(name=rng.choice(_KO_NAMES), name2=rng.choice(_KO_NAMES),
                 animal=rng.choice(_KO_ANIMALS), place=rng.choice(_KO_PLACES),
                 obj=rng.choice(_KO_OBJECTS), adj=rng.choice(_KO_ADJ), adj2=rng.choice(_KO_ADJ),
                 verb=rng.choice(_KO_VERBS), time=rng.choice(_KO_TIMES),
                 weather=rng.choice(_KO_WEATHER), num=rng.choice(_KO_NUMBERS))
    else:
        t = rng.choice(_EN_TIMES)
        v = dict(name=rng.choice(_EN_NAMES), name2=rng.choice(_EN_NAMES),
                 animal=rng.choice(_EN_ANIMALS), place=rng.choice(_EN_PLACES),
                 obj=rng.choice(_EN_OBJECTS), adj=rng.choice(_EN_ADJ), adj2=rng.choice(_EN_ADJ),
                 verb=rng.choice(_EN_VERBS_PAST), time=t, time_c=t[0].upper() + t[1:],
                 weather=rng.choice(_EN_WEATHER), num=rng.choice(_EN_NUMBERS))
    return _PARTICLE_RE.sub(_josa, template.format(**v)) if ko else template.format(**v)


def generate(part: str = "general", n_chars: int = 200_000, seed: int = 0) -> str:
    """Deterministic text of about ``n_chars`` characters (one sentence or paragraph a line)."""
    rng = random.Random(f"{part}:{seed}")
    lines: list[str] = []
    size = 0
    while size < n_chars:
        if part == "general":
            r = rng.random()
            if r < 0.04:
                line = rng.choice(_PARAGRAPHS)
            elif r < 0.55:
                line = _fill(rng.choice(_EN_TEMPLATES), rng, ko=False)
            else:
                line = _fill(rng.choice(_KO_TEMPLATES), rng, ko=True)
        elif part == "finetune":
            if rng.random() < 0.5:
                line = _fill(rng.choice(_FT_EN), rng, ko=False)
            else:
                line = _fill(rng.choice(_FT_KO), rng, ko=True)
        elif part == "captions":
            line = caption(rng.randrange(len(CAPTION_CLASSES)), rng)
        else:
            raise ValueError(f"unknown corpus part {part!r}")
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines) + "\n"
