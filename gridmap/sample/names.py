"""Fictitious but plausible Chinese names for the sample district, drawn from word lists."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["NameMaker", "chinese_numeral", "place_stem"]

_BRANDS = (
    "融汇",
    "金科",
    "江南",
    "锦绣",
    "渝兴",
    "南滨",
    "山水",
    "天和",
    "瑞安",
    "兴茂",
    "鸿福",
    "翰林",
    "天骄",
    "康居",
    "阳光",
    "海峡",
    "长江",
    "金辉",
    "嘉禾",
    "蓝湖",
    "云锦",
    "泰和",
    "华庭",
    "宏达",
    "东方",
    "万和",
    "锦江",
    "佳兆",
    "润丰",
    "御景",
)
_CORES = (
    "半岛",
    "花园",
    "名都",
    "华府",
    "天地",
    "家园",
    "公馆",
    "雅苑",
    "国际",
    "水岸",
    "丽景",
    "山庄",
    "明珠",
    "世家",
    "湾",
    "上城",
    "南郡",
    "江山",
    "枫丹",
    "悦府",
    "时代",
    "城",
)
_SUBS = (
    "翠苑",
    "阳光小镇",
    "锦园",
    "枫林苑",
    "观澜",
    "听江苑",
    "云台",
    "春风里",
    "紫薇苑",
    "一期",
    "二期",
    "三期",
    "东区",
    "西区",
    "北区",
    "南苑",
    "桂园",
    "兰亭",
)
_OLD = ("新村", "小区", "宿舍", "花园", "居民点", "家属区", "住宅区")
_FACTORIES = (
    "长江电工厂",
    "汽车配件厂",
    "纺织厂",
    "化工厂",
    "仪表厂",
    "印刷厂",
    "机械厂",
    "粮食局",
    "邮电局",
    "供电局",
    "建工",
    "水泥厂",
)
_FIRM_WORDS = (
    "恒",
    "瑞",
    "达",
    "信",
    "科",
    "华",
    "鑫",
    "泰",
    "宏",
    "远",
    "通",
    "德",
    "创",
    "新",
    "安",
    "博",
    "联",
    "盛",
    "源",
    "智",
    "航",
    "腾",
    "森",
    "祥",
    "卓",
    "铭",
    "杰",
    "辰",
)
_FIRM_KINDS = (
    "科技有限公司",
    "信息技术有限公司",
    "机械制造有限公司",
    "物流有限公司",
    "食品有限公司",
    "建材有限公司",
    "电子有限公司",
    "医药有限公司",
    "汽车零部件有限公司",
    "实业有限公司",
)
_ROAD_WORDS = (
    "江南",
    "南坪",
    "南城",
    "学府",
    "工贸",
    "响水",
    "腾龙",
    "通江",
    "茶园",
    "广福",
    "峡江",
    "长电",
    "白鹤",
    "玉马",
    "兴塘",
    "回龙",
    "南滨",
    "四海",
    "金紫",
    "海峡",
    "福民",
    "石溪",
    "仁济",
    "丹龙",
    "金山",
    "骑龙",
    "南湖",
    "长生",
    "迎龙",
    "明月",
    "天文",
    "弹子",
    "铜元",
    "涂山",
    "黄桷",
    "莲花",
    "月亮",
    "红光",
    "翠竹",
    "民主",
    "和平",
    "建设",
    "光华",
)
_ROAD_SUFFIXES = (
    "路",
    "路",
    "路",
    "大道",
    "街",
    "东路",
    "西路",
    "南路",
    "北路",
    "一路",
    "二路",
    "三路",
    "支路",
    "一支路",
    "二支路",
)
_SURNAMES = (
    "王",
    "李",
    "张",
    "刘",
    "陈",
    "杨",
    "黄",
    "赵",
    "吴",
    "周",
    "徐",
    "孙",
    "马",
    "朱",
    "胡",
    "郭",
    "何",
    "高",
    "林",
    "罗",
    "郑",
    "梁",
    "谢",
    "宋",
    "唐",
    "许",
    "韩",
    "冯",
    "邓",
    "曹",
    "彭",
    "曾",
    "肖",
    "田",
    "董",
    "袁",
    "潘",
    "于",
    "蒋",
    "蔡",
    "余",
    "杜",
    "叶",
    "程",
    "苏",
    "魏",
    "吕",
    "丁",
    "任",
    "沈",
    "姚",
    "卢",
    "姜",
    "崔",
    "钟",
    "谭",
    "陆",
    "汪",
    "范",
    "金",
    "石",
    "廖",
    "贾",
    "夏",
    "韦",
    "付",
    "方",
    "白",
    "邹",
    "孟",
    "熊",
    "秦",
    "邱",
    "江",
    "尹",
    "薛",
    "闫",
    "段",
    "雷",
    "侯",
    "龙",
    "史",
    "陶",
    "黎",
    "贺",
    "顾",
    "毛",
    "郝",
    "龚",
    "邵",
)
_DIGITS = "零一二三四五六七八九"


def chinese_numeral(n: int) -> str:
    """1 -> 一, 12 -> 十二, 40 -> 四十, 105 -> 一百零五 (1 <= n <= 999).

    Examples
    --------
    >>> chinese_numeral(21), chinese_numeral(10), chinese_numeral(105)
    ('二十一', '十', '一百零五')
    """
    if not 1 <= n <= 999:
        raise ValueError(f"n must be within 1..999, got {n}")
    h, rest = divmod(n, 100)
    t, u = divmod(rest, 10)
    out = f"{_DIGITS[h]}百" if h else ""
    if t:
        out += ("" if t == 1 and not h else _DIGITS[t]) + "十"
    elif h and u:
        out += "零"
    return out + (_DIGITS[u] if u else "")


def place_stem(short_name: str) -> str:
    """南湖社区 -> 南湖, 联合村 -> 联合, 铜元局街道 -> 铜元局, 南坪镇 -> 南坪."""
    for suffix in ("社区", "街道", "村", "镇"):
        if short_name.endswith(suffix) and len(short_name) > len(suffix):
            return short_name[: -len(suffix)]
    return short_name


class NameMaker:
    """Draws names from the word lists with ``rng``, never giving the same name twice."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self._used: set[str] = set()
        self._staff_count: dict[str, int] = {}

    def _pick(self, words):
        return words[int(self.rng.integers(len(words)))]

    def _unique(self, make, fallback_suffix: str = "") -> str:
        for _ in range(40):
            name = make()
            if name not in self._used:
                self._used.add(name)
                return name
        k = 2
        while f"{name}{fallback_suffix}{k}" in self._used:
            k += 1
        name = f"{name}{fallback_suffix}{k}"
        self._used.add(name)
        return name

    def compound(self, stem: str, old: bool) -> str:
        """A closed compound: 融汇半岛·翠苑, 南湖花园, 长江电工厂宿舍 ..."""
        p = self._pick
        if old:
            forms: tuple[Callable[[], str], ...] = (
                lambda: stem + p(_OLD),
                lambda: p(_FACTORIES) + p(("宿舍", "家属区", "生活区")),
                lambda: stem + p(("一", "二", "三", "四")) + "村",
            )
        else:
            forms = (
                lambda: p(_BRANDS) + p(_CORES),
                lambda: p(_BRANDS) + p(_CORES) + "·" + p(_SUBS),
                lambda: p(_BRANDS) + "·" + stem + p(_CORES),
                lambda: stem + p(_CORES),
            )
        return self._unique(lambda: forms[int(self.rng.integers(len(forms)))](), "")

    def social_unit(self, category: str, stem: str) -> str:
        p = self._pick
        if category == "school":
            forms: tuple[Callable[[], str], ...] = (
                lambda: f"南岸区{stem}小学",
                lambda: f"重庆市南岸区{stem}中学",
                lambda: f"南岸区{stem}幼儿园",
                lambda: f"重庆{p(_BRANDS)}实验学校",
                lambda: f"南岸区{stem}{p(('第一', '第二', '实验'))}小学",
            )
        elif category == "hospital":
            forms = (
                lambda: f"南岸区{stem}社区卫生服务中心",
                lambda: f"重庆{p(_BRANDS)}医院",
                lambda: f"南岸区{stem}中医院",
                lambda: f"重庆{stem}{p(('口腔', '妇产', '骨科', '眼科'))}医院",
            )
        elif category == "enterprise":
            forms = (lambda: "重庆" + p(_FIRM_WORDS) + p(_FIRM_WORDS) + p(_FIRM_KINDS),)
        elif category == "office":
            forms = (
                lambda: f"{p(_BRANDS)}{p(('国际大厦', '商务中心', '写字楼', '金融中心'))}",
                lambda: f"{stem}{p(('商务大厦', '企业中心', '科创园'))}",
            )
        elif category == "government":
            forms = (
                lambda: f"南岸区{stem}{p(('派出所', '司法所', '税务所', '市场监管所'))}",
                lambda: f"南岸区{stem}{p(('便民服务中心', '消防救援站', '供电所'))}",
            )
        else:
            raise ValueError(f"unknown category {category!r}")
        return self._unique(lambda: forms[int(self.rng.integers(len(forms)))](), "")

    def road(self, stems: list[str]) -> str:
        """A road name from a local place stem or a common road word: 南湖路, 江南大道 ..."""

        def make():
            word = (
                self._pick(stems) if stems and self.rng.random() < 0.55 else self._pick(_ROAD_WORDS)
            )
            return word + self._pick(_ROAD_SUFFIXES)

        return self._unique(make, "")

    def staff(self) -> str:
        """An obviously fictitious person: 张某一, 李某二, ... (surname + 某 + a counter)."""
        surname = self._pick(_SURNAMES)
        k = self._staff_count.get(surname, 0) + 1
        self._staff_count[surname] = k
        return f"{surname}某{chinese_numeral(k)}"
