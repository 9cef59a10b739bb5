"""Generator of the built-in benchmark packs (run from the repository root:
python -m tests.generators.packs).

Every item is written by this project (procedurally, from the tables and
templates below) and is licensed Apache-2.0 with the rest of fromscratch. The
generator is deterministic (fixed seeds), so the committed files can be
re-created byte for byte; a test checks that they are.

The packs are small on purpose: they make the demo and the tests run offline
and cover the item shapes a real round uses (Korean and English; knowledge,
grammar, arithmetic, date/unit reasoning, reading comprehension; multiple
choice and generation). They are not a substitute for KMMLU, HAE-RAE, CLIcK or
KoBEST (see `fromscratch.bench.loaders`).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parents[2] / "src" / "fromscratch" / "bench" / "packs"
LICENSE_LINE = "Original items written for the fromscratch project; Apache-2.0."

COUNTRIES = [  # (English, capital, Korean, Korean capital)
    ("France", "Paris", "프랑스", "파리"), ("Germany", "Berlin", "독일", "베를린"),
    ("Italy", "Rome", "이탈리아", "로마"), ("Spain", "Madrid", "스페인", "마드리드"),
    ("Japan", "Tokyo", "일본", "도쿄"), ("China", "Beijing", "중국", "베이징"),
    ("South Korea", "Seoul", "대한민국", "서울"), ("Egypt", "Cairo", "이집트", "카이로"),
    ("Canada", "Ottawa", "캐나다", "오타와"), ("Australia", "Canberra", "호주", "캔버라"),
    ("Brazil", "Brasilia", "브라질", "브라질리아"), ("Argentina", "Buenos Aires", "아르헨티나", "부에노스아이레스"),
    ("Mexico", "Mexico City", "멕시코", "멕시코시티"), ("Russia", "Moscow", "러시아", "모스크바"),
    ("India", "New Delhi", "인도", "뉴델리"), ("Thailand", "Bangkok", "태국", "방콕"),
    ("Vietnam", "Hanoi", "베트남", "하노이"), ("Indonesia", "Jakarta", "인도네시아", "자카르타"),
    ("the Philippines", "Manila", "필리핀", "마닐라"), ("Turkey", "Ankara", "튀르키예", "앙카라"),
    ("Greece", "Athens", "그리스", "아테네"), ("Portugal", "Lisbon", "포르투갈", "리스본"),
    ("the Netherlands", "Amsterdam", "네덜란드", "암스테르담"), ("Belgium", "Brussels", "벨기에", "브뤼셀"),
    ("Austria", "Vienna", "오스트리아", "빈"), ("Switzerland", "Bern", "스위스", "베른"),
    ("Sweden", "Stockholm", "스웨덴", "스톡홀름"), ("Norway", "Oslo", "노르웨이", "오슬로"),
    ("Finland", "Helsinki", "핀란드", "헬싱키"), ("Denmark", "Copenhagen", "덴마크", "코펜하겐"),
    ("Poland", "Warsaw", "폴란드", "바르샤바"), ("Ireland", "Dublin", "아일랜드", "더블린"),
    ("the United Kingdom", "London", "영국", "런던"), ("Kenya", "Nairobi", "케냐", "나이로비"),
    ("Peru", "Lima", "페루", "리마"), ("Chile", "Santiago", "칠레", "산티아고"),
    ("Mongolia", "Ulaanbaatar", "몽골", "울란바토르"), ("New Zealand", "Wellington", "뉴질랜드", "웰링턴"),
    ("Saudi Arabia", "Riyadh", "사우디아라비아", "리야드"), ("Iran", "Tehran", "이란", "테헤란"),
]
NOUNS = ["사과", "책", "연필", "가방", "시계", "우산", "컴퓨터", "의자", "신발", "모자", "공책", "지갑",
         "거울", "바지", "자동차", "자전거", "기차", "물", "빵", "우유", "김치", "라면", "커피", "과자",
         "꽃", "나무", "강아지", "고양이", "책상", "창문", "문", "달", "별", "편지", "사진", "음악"]
PLACES = ["학교", "병원", "시장", "공원", "도서관", "교실", "집", "산", "바다", "서울", "부산", "제주도",
          "회사", "식당", "호텔", "박물관", "운동장", "역", "공항", "마을"]
NAMES_KO = ["민지", "지수", "서연", "하준", "도윤", "수아", "지호", "예린", "현우", "유진", "태민", "소윤"]
NAMES_EN = ["Alice", "Ben", "Chloe", "Daniel", "Emma", "Felix", "Grace", "Henry", "Isla", "Jack", "Maya", "Noah"]
DAYS_EN = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
DAYS_KO = ["월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일"]
MONTHS_EN = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
             "October", "November", "December"]


def has_batchim(word: str) -> bool:
    code = ord(word[-1]) - 0xAC00
    return 0 <= code < 11172 and code % 28 != 0


def rieul_batchim(word: str) -> bool:
    code = ord(word[-1]) - 0xAC00
    return 0 <= code < 11172 and code % 28 == 8


def particle(word: str, with_b: str, without_b: str) -> str:
    return with_b if has_batchim(word) else without_b


def ro(word: str) -> str:
    return "로" if (not has_batchim(word) or rieul_batchim(word)) else "으로"


def _mc_yaml(name: str, text: str, description: str, metric: str = "acc") -> str:
    return f"""# {LICENSE_LINE}
# {description}
task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: test.jsonl
test_split: test
output_type: multiple_choice
doc_to_text: {json.dumps(text, ensure_ascii=False)}
doc_to_choice: choices
doc_to_target: answer
target_delimiter: " "
metric_list:
  - metric: {metric}
metadata:
  version: 1
  license: Apache-2.0
  language: {"ko" if name.startswith("ko") else "en"}
"""


def _gen_yaml(name: str, text: str, description: str) -> str:
    return f"""# {LICENSE_LINE}
# {description}
task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: test.jsonl
test_split: test
output_type: generate_until
doc_to_text: {json.dumps(text, ensure_ascii=False)}
doc_to_target: answer
generation_kwargs:
  until: ["\\n"]
  max_gen_toks: 8
metric_list:
  - metric: numeric_match
metadata:
  version: 1
  license: Apache-2.0
  language: {"ko" if name.startswith("ko") else "en"}
"""


def _shuffle_choices(rng: random.Random, gold: str, distractors: list[str]) -> tuple[list[str], int]:
    choices = [gold] + [d for d in distractors if d != gold]
    rng.shuffle(choices)
    return choices, choices.index(gold)


def en_arith(rng: random.Random) -> list[dict]:
    out = []
    for i in range(60):
        op = ["+", "-", "*"][i % 3]
        a, b = rng.randint(10, 99), rng.randint(2, 60)
        if op == "-" and b > a:
            a, b = b, a
        ans = a + b if op == "+" else a - b if op == "-" else a * b
        word = {"+": "plus", "-": "minus", "*": "times"}[op]
        out.append({"id": f"en-arith-{i:03d}", "question": f"What is {a} {word} {b}?", "answer": str(ans)})
    return out


def ko_arith(rng: random.Random) -> list[dict]:
    out = []
    for i in range(60):
        name = NAMES_KO[i % len(NAMES_KO)]
        topic = particle(name, "은", "는")
        k = i % 5
        if k == 0:
            a, b = rng.randint(3, 40), rng.randint(2, 30)
            q, ans = f"{name}{topic} 사과를 {a}개 가지고 있었습니다. {b}개를 더 샀습니다. 사과는 모두 몇 개입니까?", a + b
        elif k == 1:
            p, n = rng.choice([300, 500, 700, 800, 1200]), rng.randint(2, 9)
            q, ans = f"연필 한 자루는 {p}원입니다. 연필 {n}자루를 사면 모두 얼마입니까?", p * n
        elif k == 2:
            g, per = rng.randint(2, 8), rng.randint(3, 9)
            q, ans = f"학생 {g * per}명을 {g}개 모둠으로 똑같이 나누면 한 모둠은 몇 명입니까?", per
        elif k == 3:
            per, days = rng.randint(5, 30), rng.randint(2, 9)
            q, ans = f"{name}{topic} {per * days}쪽짜리 책을 하루에 {per}쪽씩 읽습니다. 다 읽으려면 며칠이 걸립니까?", days
        else:
            a = rng.randint(20, 60)
            b = rng.randint(1, a - 1)
            q, ans = f"버스에 {a}명이 타고 있었는데 정류장에서 {b}명이 내렸습니다. 버스에 남은 사람은 몇 명입니까?", a - b
        out.append({"id": f"ko-arith-{i:03d}", "question": q, "answer": str(ans)})
    return out


def ko_particles(rng: random.Random) -> list[dict]:
    frames = [
        ("이", "가", lambda n, p: f"책상 위에 {n}{p} 있다."),
        ("을", "를", lambda n, p: f"나는 어제 {n}{p} 샀다."),
        ("은", "는", lambda n, p: f"이 {n}{p} 아주 오래되었다."),
        ("과", "와", lambda n, p: f"{n}{p} 공책을 가방에 넣었다."),
    ]
    out = []
    i = 0
    for noun in NOUNS:
        w, wo, frame = frames[i % len(frames)]
        right = particle(noun, w, wo)
        wrong = wo if right == w else w
        choices, ans = _shuffle_choices(rng, frame(noun, right), [frame(noun, wrong)])
        out.append({"id": f"ko-particles-{i:03d}", "choices": choices, "answer": ans})
        i += 1
    for place in PLACES:
        right = ro(place)
        wrong = "으로" if right == "로" else "로"
        choices, ans = _shuffle_choices(rng, f"우리는 내일 {place}{right} 간다.", [f"우리는 내일 {place}{wrong} 간다."])
        out.append({"id": f"ko-particles-{i:03d}", "choices": choices, "answer": ans})
        i += 1
    for noun in NOUNS[:24]:
        right = particle(noun, "이", "가")
        wrong = "가" if right == "이" else "이"
        choices, ans = _shuffle_choices(rng, f"그 {noun}{right} 제일 좋다.", [f"그 {noun}{wrong} 제일 좋다."])
        out.append({"id": f"ko-particles-{i:03d}", "choices": choices, "answer": ans})
        i += 1
    return out


def en_dates(rng: random.Random) -> list[dict]:
    out = []
    for i in range(60):
        if i % 2 == 0:
            d, n = rng.randrange(7), rng.randint(2, 40)
            gold = DAYS_EN[(d + n) % 7]
            q = f"Today is {DAYS_EN[d]}. What day of the week will it be in {n} days?"
            pool = [x for x in DAYS_EN if x != gold]
        else:
            m, n = rng.randrange(12), rng.randint(2, 30)
            gold = MONTHS_EN[(m + n) % 12]
            q = f"It is {MONTHS_EN[m]} now. Which month will it be {n} months from now?"
            pool = [x for x in MONTHS_EN if x != gold]
        choices, ans = _shuffle_choices(rng, gold, rng.sample(pool, 3))
        out.append({"id": f"en-dates-{i:03d}", "question": q, "choices": choices, "answer": ans})
    return out


def en_units(rng: random.Random) -> list[dict]:
    units = [("metres", "centimetres", 100), ("kilograms", "grams", 1000), ("hours", "minutes", 60),
             ("minutes", "seconds", 60), ("kilometres", "metres", 1000), ("litres", "millilitres", 1000),
             ("days", "hours", 24), ("weeks", "days", 7)]
    out = []
    for i in range(56):
        frm, to, f = units[i % len(units)]
        x = rng.randint(2, 12)
        gold = x * f
        distract = sorted({x * f * 10, x * f // 10 if f >= 100 else x * (f + 10), x + f, (x + 1) * f} - {gold})
        choices, ans = _shuffle_choices(rng, str(gold), [str(d) for d in distract[:3]])
        out.append({"id": f"en-units-{i:03d}", "question": f"How many {to} are there in {x} {frm}?",
                    "choices": choices, "answer": ans})
    return out


def ko_dates(rng: random.Random) -> list[dict]:
    out = []
    for i in range(50):
        d, n = rng.randrange(7), rng.randint(2, 30)
        gold = DAYS_KO[(d + n) % 7]
        choices, ans = _shuffle_choices(rng, gold, rng.sample([x for x in DAYS_KO if x != gold], 3))
        out.append({"id": f"ko-dates-{i:03d}", "question": f"오늘은 {DAYS_KO[d]}입니다. {n}일 뒤는 무슨 요일입니까?",
                    "choices": choices, "answer": ans})
    return out


def reading(rng: random.Random, lang: str) -> list[dict]:
    out = []
    for i in range(60):
        k = i % 3
        if lang == "ko":
            name = NAMES_KO[i % len(NAMES_KO)]
            t = particle(name, "은", "는")
            place, day = rng.choice(PLACES), rng.randrange(7)
            have, give = rng.randint(4, 12), rng.randint(1, 3)
            passage = (f"{name}{t} {DAYS_KO[day]}에 {place}에 갔다. 그곳에서 {name}{t} 사과 {have}개를 샀다. "
                       f"집에 오는 길에 친구에게 사과 {give}개를 주었다.")
            if k == 0:
                q, gold, pool = f"{name}{t} 어디에 갔습니까?", place, [p for p in PLACES if p != place]
                distract = rng.sample(pool, 3)
            elif k == 1:
                q, gold = f"{name}에게 남은 사과는 몇 개입니까?", f"{have - give}개"
                distract = [f"{have}개", f"{have + give}개", f"{give}개"]
            else:
                q, gold = f"{name}{t} 무슨 요일에 {place}에 갔습니까?", DAYS_KO[day]
                distract = rng.sample([x for x in DAYS_KO if x != gold], 3)
            text = f"{passage}\n질문: {q}\n답:"
        else:
            name = NAMES_EN[i % len(NAMES_EN)]
            places = ["the library", "the market", "the park", "the museum", "the station", "the beach",
                      "the school", "the hospital", "the bakery", "the harbour"]
            place, day = rng.choice(places), rng.randrange(7)
            have, give = rng.randint(4, 12), rng.randint(1, 3)
            passage = (f"On {DAYS_EN[day]}, {name} went to {place} and bought {have} apples there. "
                       f"On the way home, {name} gave {give} apples to a friend.")
            if k == 0:
                q, gold = f"Where did {name} go?", place
                distract = rng.sample([p for p in places if p != place], 3)
            elif k == 1:
                q, gold = f"How many apples does {name} have left?", str(have - give)
                distract = [str(have), str(have + give), str(give)]
            else:
                q, gold = f"On which day did {name} go to {place}?", DAYS_EN[day]
                distract = rng.sample([x for x in DAYS_EN if x != gold], 3)
            text = f"{passage}\nQuestion: {q}\nAnswer:"
        choices, ans = _shuffle_choices(rng, gold, distract)
        out.append({"id": f"{lang}-reading-{i:03d}", "text": text, "choices": choices, "answer": ans})
    return out


def knowledge(rng: random.Random, lang: str) -> list[dict]:
    out = []
    for i, (en, cap, ko, kocap) in enumerate(COUNTRIES):
        others = [c for c in COUNTRIES if c[0] != en]
        pick = rng.sample(others, 3)
        if lang == "ko":
            q = f"{ko}의 수도는 어디입니까?"
            choices, ans = _shuffle_choices(rng, kocap, [p[3] for p in pick])
            q2 = f"수도가 {kocap}인 나라는 어디입니까?"
            choices2, ans2 = _shuffle_choices(rng, ko, [p[2] for p in pick])
        else:
            q = f"What is the capital of {en}?"
            choices, ans = _shuffle_choices(rng, cap, [p[1] for p in pick])
            q2 = f"Which country has {cap} as its capital?"
            choices2, ans2 = _shuffle_choices(rng, en, [p[0] for p in pick])
        out.append({"id": f"{lang}-knowledge-{2 * i:03d}", "question": q, "choices": choices, "answer": ans})
        out.append({"id": f"{lang}-knowledge-{2 * i + 1:03d}", "question": q2, "choices": choices2, "answer": ans2})
    return out


PACKS = {
    "en-arith": (en_arith, "gen", "Question: {{question}}\nAnswer:", "English two-number arithmetic, numeric answer."),
    "ko-arith": (ko_arith, "gen", "문제: {{question}}\n답:", "Korean arithmetic word problems, numeric answer."),
    "ko-particles": (ko_particles, "mc", "다음 중 문법에 맞는 문장:", "Korean particle choice (이/가, 을/를, 은/는, 와/과, 로/으로)."),
    "en-dates": (en_dates, "mc", "Question: {{question}}\nAnswer:", "English weekday and month arithmetic."),
    "ko-dates": (ko_dates, "mc", "질문: {{question}}\n답:", "Korean weekday arithmetic."),
    "en-units": (en_units, "mc", "Question: {{question}}\nAnswer:", "English unit conversion."),
    "ko-reading": (lambda r: reading(r, "ko"), "mc", "{{text}}", "Korean reading comprehension over generated passages."),
    "en-reading": (lambda r: reading(r, "en"), "mc", "{{text}}", "English reading comprehension over generated passages."),
    "ko-knowledge": (lambda r: knowledge(r, "ko"), "mc", "질문: {{question}}\n답:", "Korean world-capitals knowledge."),
    "en-knowledge": (lambda r: knowledge(r, "en"), "mc", "Question: {{question}}\nAnswer:", "English world-capitals knowledge."),
}


def render_all() -> dict[str, dict[str, str]]:
    """Pack name -> {file name: text}, deterministically."""
    files: dict[str, dict[str, str]] = {}
    for n, (name, (fn, kind, text, desc)) in enumerate(sorted(PACKS.items())):
        rows = fn(random.Random(20260101 + n))
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        yaml_text = _mc_yaml(name, text, desc) if kind == "mc" else _gen_yaml(name, text, desc)
        files[name] = {"task.yaml": yaml_text, "test.jsonl": data}
    return files


def main() -> None:
    for name, entries in render_all().items():
        d = HERE / name
        d.mkdir(exist_ok=True)
        for fname, text in entries.items():
            (d / fname).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
