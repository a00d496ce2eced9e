// theorylab's search ranking (Sphinx html_search_scorer): the default weights, plus one rule.
// Pages that only list the chapters (the Reproducibility report, the syllabus, the references)
// mention every chapter's words, so a search for a chapter's topic ranks the chapter above them.
var Scorer = {
  score: function (result) {
    var docname = result[0], score = result[4];
    if (/^book\/(reproducibility|syllabus|references)$/.test(docname)) return score - 30;
    if (/^notebooks\//.test(docname)) return score + 5;
    return score;
  },
  objNameMatch: 11,
  objPartialMatch: 6,
  objPrio: {0: 15, 1: 5, 2: -5},
  objPrioDefault: 0,
  title: 15,
  partialTitle: 7,
  term: 5,
  partialTerm: 2,
};
