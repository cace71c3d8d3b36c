"""Small, readable texts for the matcher tests (fiction written for relaywatch)."""

STORY = [
    "The Harbour Authority of Port Alder halted work on its Kestrel Point container terminal on Monday, "
    "hours after a regional court quashed the permit that allowed dredging in the sound.",
    "Judge Miriam Okafor ruled that the authority had failed to assess the effect of the dredging on "
    "shellfish beds that supply about 300 local harvesters.",
    "The 1.4 billion dollar expansion was meant to double the port's capacity by 2029 and bring in "
    "deep-water ships that now unload at rival harbours further north.",
    "Authority chairman Tomas Varga told reporters that crews had been sent home and that no appeal "
    "would be filed before the board met next week.",
    "We respect the court's decision and we will comply with it fully, Varga said outside the courthouse.",
    "The harvesters' cooperative, which brought the case two years ago, welcomed the ruling and asked "
    "the authority to restore the beds already damaged by test drilling.",
    "Shares in Northgate Logistics, which had signed a twenty-year lease on the new terminal, fell 6 "
    "percent in afternoon trading before recovering some of the loss.",
    "Analysts at Brightwater Securities said the delay could last eighteen months if a new environmental "
    "study is ordered, pushing costs up by at least 150 million dollars.",
    "The regional government, which owns a third of the authority, said it would review the project's "
    "financing in light of the decision.",
    "Environmental groups have opposed the expansion since it was first proposed in 2021, citing the "
    "sound's seagrass meadows and a colony of harbour seals.",
    "Dock workers' union leader Petra Lind said her members feared for the jobs the terminal had promised "
    "and urged both sides to find a compromise quickly.",
    "The court gave the authority sixty days to present a plan for repairing the shellfish beds or face "
    "fines of up to 40,000 dollars a day.",
]

# STORY[:6] through an article spinner: a synonym for a word here and there, often two in a row.
SPUN = [
    "The Harbour Authority of Port Alder stopped work on its Kestrel Point container terminal on Monday, "
    "hours after a local court overturned the licence that permitted dredging in the sound.",
    "Judge Miriam Okafor ruled that the authority had neglected to evaluate the impact of the dredging on "
    "shellfish beds that provide about 300 regional harvesters.",
    "The 1.4 billion dollar growth was intended to double the port's capability by 2029 and bring in "
    "deep-water vessels that now unload at competing harbours further north.",
    "Authority chairman Tomas Varga informed press reporters that teams had been sent home which no appeal "
    "would be submitted before the board satisfied next week.",
    "We appreciate the court's choice and we will adhere to it totally, Varga stated outside the courthouse.",
    "The harvesters' cooperative, which brought the case 2 years back, invited the judgment and asked "
    "the authority to bring back the beds already harmed by test drilling.",
]

# The same event, reported independently: same people, places and figures, one shared quote.
OTHER_REPORT = [
    "Construction cranes stood idle at Kestrel Point on Monday as Port Alder's harbour board obeyed a "
    "court order stopping its contested terminal project.",
    "Shellfish harvesters, who sued in 2024, cheered outside the courthouse when Judge Miriam Okafor "
    "announced she was cancelling the dredging permit.",
    "We respect the court's decision and we will comply with it fully, Varga said outside the courthouse.",
    "Tomas Varga, who chairs the board, would not say whether the 1.4 billion dollar plan was finished. "
    "Board members meet next week to weigh their options.",
    "For the 300 families who work the beds, the decision means a season they had feared losing. "
    "Northgate Logistics declined to comment on its lease.",
]

EARNINGS_A = ("Acme Tools Inc said third quarter net income rose to 12.4 million dollars or 1.10 dollars a "
              "share from 9.8 million dollars or 87 cents a share a year earlier. Revenue rose to 210.5 "
              "million dollars from 187.2 million dollars. The company said it expected full year "
              "earnings per share of 4.20 to 4.35 dollars.")
EARNINGS_B = ("Borealis Pumps Corp said third quarter net income rose to 31.7 million dollars or 2.05 dollars "
              "a share from 28.1 million dollars or 1.81 dollars a share a year earlier. Revenue rose to "
              "502.3 million dollars from 466.9 million dollars. The company said it expected full year "
              "earnings per share of 7.90 to 8.10 dollars.")

GERMAN = [
    "Die Hafenbehörde von Port Alder hat die Arbeiten am Containerterminal Kestrel Point am Montag "
    "gestoppt, nachdem ein Gericht die Genehmigung für die Ausbaggerung des Sunds aufgehoben hatte.",
    "Richterin Miriam Okafor urteilte, die Behörde habe die Folgen für die Muschelbänke nicht geprüft, "
    "von denen rund dreihundert Fischer leben.",
    "Der Ausbau sollte die Kapazität des Hafens bis 2029 verdoppeln und große Schiffe anziehen, die "
    "heute in Häfen weiter nördlich entladen werden.",
    "Die Genossenschaft der Fischer begrüßte das Urteil und forderte die Behörde auf, die bereits "
    "beschädigten Bänke wiederherzustellen.",
]

CHINESE = [
    "港口管理局周一暂停了凯斯特雷尔角集装箱码头的施工，此前地区法院撤销了允许在海峡疏浚的许可证。",
    "法官裁定，管理局没有评估疏浚对贝类养殖场的影响，约有三百名当地渔民依靠这些养殖场为生。",
    "这项耗资十四亿美元的扩建工程原计划到二零二九年使港口吞吐能力翻一番，并吸引深水船舶停靠。",
    "渔民合作社两年前提起诉讼，对裁决表示欢迎，并要求管理局修复已被试钻破坏的贝类养殖场。",
]
CHINESE_OTHER = [
    "北方铁路公司周二宣布，由于工人罢工，哈尔弗顿周边的大部分列车服务将暂停至周末。",
    "工会表示，罢工是因为公司拒绝就工资和轮班时间进行新的谈判，而公司则称工会的要求不切实际。",
    "数以千计的通勤者被迫改乘公共汽车或自驾出行，市中心的道路在早高峰时段严重拥堵。",
]
