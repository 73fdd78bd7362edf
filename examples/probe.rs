fn main() {
    let cases = [
        "Brig. Gen. Amir Hatami said it. He left.",
        "Lt. Col. John Smith spoke. Maj. Gen. Lee did too.",
        "Sen. John McCain and Rev. Al Sharpton attended. Gov. Brown did not.",
        "The U.S. Army said on Jan. 5 that it would leave. It did.",
        "He lives in Washington, D.C. He works there.",
        "He moved to the U.S. in 1990. He stayed.",
        "She arrived at Ft. Bragg on Monday. It rained.",
        "The meeting is at 10 a.m. Tuesday in the hall.",
        "It starts at 10 a.m. He will attend.",
        "“We will win,” he said. “Next time we will.”",
        "He said: “It is over.” Next day, he left.",
        "“It is over.” Next, he left.",
        "\"It is over.\" Next, he left.",
        "He paused... Then he left.",
        "He paused… Then he left.",
        "TEHRAN (Reuters) - Iran said on Monday it would talk. The talks begin soon.",
        "WASHINGTON — The president said so. Then he left.",
        "Line one without stop\nLine two starts here. Fine.",
        "line one wraps\nand continues here. Fine.",
        "Prices rose 3.5 percent. Mr. Smith said No. 2 was fine.",
        "He was born in St. Louis, Mo. He lives in Calif. now.",
        "The vote was 5-4. Justice Roberts wrote it.",
        "Tarnished by Xi’s visit, the U.N. said. Next.",
        "He said “we will win.” The crowd cheered.",
        "The company, Apple Inc., said it. Apple Inc. He.",
        "Dr. Jones met Prof. Smith at 3 p.m. on Sept. 12. They talked.",
        "It was great! :) They were amazing.",
        "I asked him (why? no idea.) Then left.",
        "(And, by the way, is anybody else nostalgic?) This post argues.",
    ];
    for c in cases {
        let b = sentencex::get_sentence_boundaries("en", c);
        let v: Vec<&str> = b.iter().map(|b| b.text.trim()).collect();
        println!("{v:?}");
    }
}
