/* ckpt/poly1305.c: RFC 8439's example (section 2.5.2) and edge cases of
 * its appendix A.3 (#5, #6: the reductions near 2^130 - 5), then vectors
 * computed with big integers by a ten-line Python model of the RFC's
 * definition (lengths across every block boundary, all-ones key and
 * message), each fed whole and in pieces of every size. */
#include "poly1305.h"
#include "unit.h"

#include <stdio.h>
#include <string.h>

static const struct {
	size_t n;
	const char *key, *msg, *tag;
} poly_cases[] = {
	{34, "85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b",
	 "43727970746f6772617068696320466f72756d2052657365617263682047726f7570",
	 "a8061dc1305136c6c22b8baf0c0127a9"},
	{16, "0200000000000000000000000000000000000000000000000000000000000000",
	 "ffffffffffffffffffffffffffffffff", "03000000000000000000000000000000"},
	{16, "02000000000000000000000000000000ffffffffffffffffffffffffffffffff",
	 "02000000000000000000000000000000", "03000000000000000000000000000000"},
	{0, "52f22665a60c12d289185d950ee8813609166f6b113d178d6c0fd3901ff239a1", "", "09166f6b113d178d6c0fd3901ff239a1"},
	{1, "a095f20f9395650cf9380b8edb224a6b248a1e924e8fd0ae2e1a9492a3305f18", "8c", "b8fd5d3d27eaf3dbe139f04bd9160d8f"},
	{15, "b610900f9e347fae886dc6507795ec745c4c3fcb2eb2c73e14934c867ee057ba", "72499bfa121e836b2ac15726ee7d6b", "6f216123a9a34ef7eb616d992b17db36"},
	{16, "0af6ab13c38e92cae0d15057b159987f94cc7411d717f14579b2aa100fbbb34f", "a593feaed27248b762e3ab5805f0765a", "ce603d80ad0a944cac9e733ac9139152"},
	{17, "2b9c1d7e0f37c44921bd3f6564eadf7f142a72668c47e223d16edd8c47b46afc", "5baee261f53b26152d263ba83b037cd496", "f65277a0c9539c1d132b4c2ba4529083"},
	{31, "2e434801256b885e9c9051f320b0db83f39ea7adbd0d74e6dec7f3dfaecc8f64", "6566641a7ba2660f3011fc3570291c57990d1a0091268919f25d9d0612df35", "4133dcb82f3448c6ee5118379cca2df6"},
	{32, "9d6026a240f4589a5d791f1dd97cfefa777a7b4f15241abf57bd437ad4b12984", "0534f3f3875c25b08bea06c2874cfaa4dd17b2d842845de82a5bc539888ac780", "7197f9a1a5fdeb5d6b06e4bcd5ea539b"},
	{33, "54a2399ccfc9fcc2da31ce3dd166bdcd3a33847e5bbb07fd07ca47784231b19a", "f45872ceefb9fc59f4f95d14381a3a783256347b9ffce69cd7007ae8a758cca415", "9c20290d51ce3aaff5ea41d9fd29b2c2"},
	{63, "d5a91ee863c8b6c0337ae32d6fcaa25516cdf2f8b8657666bef215b9282bfe20", "072697e777cea7259cd398fa79a8ef59278c8c210503ccf8b9a61a86bfef236ffcdf31d3df360740364a803dc39653428b6bd5210fe8bd5ae575a995d0e784", "eccb3708d620fb6c9f15a17004d11d86"},
	{64, "6bd3eae080218826868204df70c62e9b01c6cc262c24799eb91e8e0f53ae8487", "8e7bc8c61be28f0e3f30460ac51981738f07c2e4e91071539cf9819b8333b146738288ce7a81f13fb285e0e0f1ed42ec8fe4f133d772236a1f64715012ab3d6d", "03bc7f1bac92e3f2a3a0d062b629be72"},
	{65, "1236ab4dc81fe5c627f0b7a4a95d2440e223f77738bff31865e27c29fdaad539", "29b46efe8367566b325b5117b85d04568d7570b4046254849f4b83f5101cfcebc93af8e01a1543450ae7c72e45c121d16cd9e9add1f242672689eb83927eb35316", "9f7ea8833a70af45bfef63f18763c8c5"},
	{127, "470eccb02e6ce51244f004a216cd42159bdb381143dc1f740256fe8d6aedea44", "9f210b86b53df01cf829430c2e33ee4fa04e87c2344a7280ac2d4558cd04fe40090304bb818dfa3083793eef721ba8d1a66ea87e8bd5e364f8814eb037fb3a5732d5e1b4baa22367fd58fb0dd6210312a0bde1416e290e15aad761de81abf848993eb14b0b752f28447200435df654f8fc8c523e08f7e14f375b2e00556115", "7bc9fe63ea6e81e9d78215c1d8594a26"},
	{200, "794780a7333f81c6011743d1162466960a64054c4da13b1595f587dac027a8e4", "b7c8e19863c353b8fc7e2648b99ea4250bd3d5b7e483a06dbbb3cf8123e886c08191d5d0cd04d3af95cce4b6aef4b1a43a15070a22a35cf51a60d5738e0ca004a088ae3e7d430074cc11bfee80e58917a88610bebc7940cf13d8433cbac1343bbda6f9757ed861137ae9af49c40b9da1a4321399255441a6beb14d9f9122037b0f7c44f8ac19b137ac7d4ab58449767777c41efee48c334ffa15ef79044a7513d181f7fe73fe446335eaf2ee3513941724bf8643f35c219ad1a18247e31cb45d3b7fe5e07c640628", "34a5b865c724b5eb7d527f5f938365b1"},
	{1000, "00f37dae73674dba246a5860501ed7540053c056d6651ef0ed32b603e6bd4a40", "5f106463ffde96135cec6dc146da0c471a0dd5a949a2ef263ff8446f825030c55fc8f46de207cfc2a166e9e0f08d8c34b8140ceebb69739dc023a4de497c0ce9ed8c202b786a57484c41bdbdf9a74267a73d4d7b8eab641e2aa429133580e7cf7f8c3873e855ffc2736d238c313e172c578e17513d5e42cf9133e305bfde696269be8635604556c00f7f4793f75c20af8087a1cadcd9371745e53f6266a5726ef44fd9d0dff70520086cb5c3e5cd79f7967d001264eeededd387da77f8723fc81b39272685f8ae1bf1d3b8b3a5d8c3e575158dc60a00c8203b91eb09a5b74df620a04087a26fb2c31c19124c86f19531634239ca990002894dff7547f550a5d6e23e79863c8c3f07f569b4a64e0e05317fe2aca56b14413aaa6cec5e3a7e08b256b76b5cae653201cc4abdd88111347ef8334fc4d1313b773843c2e34b1bf39f7e9c2fe5397c6ae9aa0ef29825ec640d3606f998246a0db50f2f6473e5b6e250bb1cff14ee2a54302fa7ef86bf77084faab960d65ffc54712b1b00144714596bf4e21f8ff6c235615bc4d24fd2cd6e160cb479325f8aeb7231525dbce57907a1693fcfa0c4670a60087610cdeb0f4131bf10e69b565c4555f5f49d0b43bfb7b051ec464c00b8c198eacea2f2f11006d33b1b79b7f477f4c662ca40e96ed07e21ed7f2e02cdeebd4dd2b1c5269b3c53dc51755cc8c89814833264c0283f6810a6087b8d8b5329fa6de21afc12439f1535186b7ffdb5f8722c3b226a759ee4ac3cbf89d8c6aac21fc7d74b4b4791445f41bc4232703f2f3e3c2748e2e8943053106540fe3e81863ba6ce19a776fd091a0179e2d13bd772ea5f0ae04b3b1e0c3099f9d39531ee135f83dd2d729a42c6c7aaf2011ba398b59e5937095e57240b34ff410999bba6e934d002d15368ad5f2f9e4f133408cb7e8c7b106819cb65a98c27a38817a72965b24568fc48aa4e6af40d4fbe91e25b6a6a04ddc4ffcd5da43264ba6734f1016fe6286c1dd2176793e25d75c52921030d8d24a4cee86516929fed5ebc812b25594829852bec111b627dc0cecaf7ce324d20d6f10bf9e97b500d9beda26316e7b69eb0d3e429a3c9db389e679dd832d4792e90370a66f08428625b1f263ff8b9d0e5310ae28fd7c1ac09aad6521e6399748cd9a0c74ea66b4e953f6c63a85e7280702d05009efc7d773c72c39ec7d175d62dcf79661b11205b6e5d17cd718182a80a0aa22115ecbb50c7b882140dc081e560a7f3c82206db10ff9dbbb1d01c3121fbe27d49f4cfeacb2aafc9b8ee3810d5599cc1402852e59d46e7d074244180f6eb7a3597439d813c515f09322e6729a2ef47ad53e5602bcac8431dc4870ca2db5cf7df738e8594b0e1e51a40fe89a1db64bccc5f4360fd5e93255c54c314713a2d9d", "1c5798b7d1b32f95cca9385b27d22c7a"},
	{300, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", "6c499875b9b673225179adcb3a2724d2"},
};

static void unhex(const char *h, uint8_t *out)
{
	for (size_t i = 0; h[2 * i]; i++) {
		unsigned v;
		sscanf(h + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

START_TEST(poly_vectors)
{
	uint8_t key[32], msg[1024], want[16], got[16];
	size_t n = poly_cases[_i].n;
	unhex(poly_cases[_i].key, key);
	unhex(poly_cases[_i].msg, msg);
	unhex(poly_cases[_i].tag, want);
	struct zap_poly1305 p;
	zap_poly1305_init(&p, key);
	zap_poly1305_update(&p, msg, n);
	zap_poly1305_final(&p, got);
	ck_assert_mem_eq(got, want, 16);
	/* pieces of 1, 2, ... 37 bytes: every split of a block, and the
	 * two-blocks-a-step path against the one-block one */
	for (size_t step = 1; step <= 37; step++) {
		zap_poly1305_init(&p, key);
		for (size_t at = 0; at < n; at += step)
			zap_poly1305_update(&p, msg + at, n - at < step ? n - at : step);
		zap_poly1305_final(&p, got);
		ck_assert_mem_eq(got, want, 16);
	}
}
END_TEST

static Suite *poly1305_suite(void)
{
	Suite *s = suite_create("poly1305");
	TCase *tc = zt_tcase(s, "poly1305", 0);
	tcase_add_loop_test(tc, poly_vectors, 0, sizeof(poly_cases) / sizeof(poly_cases[0]));
	return s;
}

ZT_SUITE(poly1305_suite);
