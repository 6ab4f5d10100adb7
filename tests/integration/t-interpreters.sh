# perl and awk, each accumulating state and printing as it goes.
. "$(dirname "$0")/lib.sh"
command -v perl > /dev/null || skip "perl not installed"
cat > acc.pl <<'PL'
$| = 1;
my %h;
for my $i (0 .. 59) {
    $h{$i} = join(",", map { $_ * $i } 0 .. 100);
    my $t = 0;
    $t += length($h{$_}) for keys %h;
    printf "%d %d %s\n", $i, $t, substr(unpack("H*", pack("N", $t * 2654435761 % 4294967296)), 0, 8);
    select(undef, undef, undef, 0.04);
}
PL
roundtrip perl "[ \$(lines $T/perl.1) -ge 15 ]" -- perl acc.pl
AWK=$(command -v awk) || skip "awk not installed"
# awk has no sleep: it computes for a while between lines
cat > acc.awk <<'AWK'
BEGIN {
    for (i = 0; i < 40; i++) {
        for (j = 0; j < 300000; j++) s = (s * 31 + j) % 1000003
        a[i] = s
        t = 0
        for (k in a) t += a[k]
        print i, s, t
        fflush()
    }
}
AWK
roundtrip awk "[ \$(lines $T/awk.1) -ge 10 ]" -- "$AWK" -f acc.awk
