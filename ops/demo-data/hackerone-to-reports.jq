# Map a line of shared/data/reports/hackerone_disclosed_3000.jsonl onto
# schemas/report.avsc. Usage:
#   jq -c -f hackerone-to-reports.jq hackerone_disclosed_3000.jsonl
# The data set has no asset field: the first host named in the write-up
# (other than hackerone.com itself) stands in, else the program. Nor a
# vector field: the first CVSS v3.x or v4.0 vector the write-up quotes is
# taken as the reporter's (11 of the 3,000 quote one).
{
  report_id: ("h1-" + .source_id),
  submitted_at: .submitted_at,
  program: .program,
  reporter: .reporter,
  title: .title,
  asset: (((.vulnerability_information // "")
           | [match("https?://([A-Za-z0-9.-]+)"; "g").captures[0].string]
           | map(select(test("hackerone\\.com$") | not)) | .[0]) // .program),
  weakness: null,
  claimed_severity: ((.severity // "" | ascii_downcase) as $s
                     | if (["none","low","medium","high","critical"] | index($s)) != null
                       then ($s | ascii_upcase) else null end),
  cvss_vector: ((.vulnerability_information // "")
                | [match("CVSS:(3\\.[01]|4\\.0)/[A-Za-z]+:[A-Za-z](/[A-Za-z]+:[A-Za-z])*"; "g").string]
                | .[0]),
  description: .vulnerability_information,
  steps_to_reproduce: "",
  impact: (.impact // "")
}
| select((.description // "") | length > 0)
| select((.title // "") | length > 0)
