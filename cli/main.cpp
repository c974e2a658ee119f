#include <iostream>
int main() { std::cout << "nascent\n"; }
